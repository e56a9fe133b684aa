//! Training throughput: the LSTM forward pass with each GPU kernel (per-step dispatches or
//! one persistent dispatch) and a whole LSTM training step at B=64, T=100, F=10, units=128,
//! on the CPU reference and the GPU in one run. Criterion's "elem/s" is samples/s here.
//!
//!     cargo bench --bench training

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array1, Array3};
use wgfit::ops::lstm_cell::{LstmKernel, lstm_forward_with};
use wgfit::prelude::*;

fn values(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * scale)
        .collect()
}

fn devices() -> Vec<(&'static str, Device)> {
    let mut d = vec![("cpu", Device::cpu())];
    if let Ok(gpu) = Device::gpu() {
        eprintln!("GPU: {}", gpu.info());
        d.push(("gpu", gpu));
    }
    d
}

fn lstm_forward_kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("lstm_forward");
    group.sample_size(10);
    let (b, t) = (64, 100);
    group.throughput(Throughput::Elements(b as u64));
    for u in [32, 64] {
        for (name, device) in devices() {
            let xp = Tensor::from_vec(&device, [b, t, 4 * u], values(b * t * 4 * u, 1.0)).unwrap();
            let rk = Tensor::from_vec(&device, [u, 4 * u], values(u * 4 * u, 0.1)).unwrap();
            let kernels: &[LstmKernel] = if device.is_gpu() {
                &[LstmKernel::PerStep, LstmKernel::Persistent]
            } else {
                &[LstmKernel::PerStep]
            };
            for &kernel in kernels {
                let id = BenchmarkId::new(format!("{name}_{kernel:?}"), format!("B{b}_T{t}_U{u}"));
                group.bench_function(id, |bench| {
                    bench.iter(|| {
                        let s = lstm_forward_with(&xp, &rk, None, kernel).unwrap();
                        device.synchronize_blocking().unwrap();
                        s
                    })
                });
            }
        }
    }
    group.finish();
}

fn lstm_train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("lstm_train_step");
    group.sample_size(10);
    let (b, t, f, u) = (64, 100, 10, 128);
    group.throughput(Throughput::Elements(b as u64));
    let x = Array3::from_shape_vec((b, t, f), values(b * t * f, 1.0)).unwrap();
    let y = Array1::from_shape_fn(b, |i| (i % 2) as f32);
    for (name, device) in devices() {
        let mut model = Sequential::new()
            .add(Lstm::new(u).input_shape([None, Some(f)]))
            .add(Dense::new(1).activation(Activation::Sigmoid));
        model
            .compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        group.bench_function(
            BenchmarkId::new(name, format!("B{b}_T{t}_F{f}_U{u}")),
            |bench| bench.iter(|| model.train_on_batch(&x, &y).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, lstm_forward_kernels, lstm_train_step);
criterion_main!(benches);
