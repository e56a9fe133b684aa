//! Training throughput, on the CPU reference and the GPU in one run (criterion's "elem/s" is
//! samples/s here):
//! - `lstm_forward`: the LSTM forward pass with each GPU kernel (per-step dispatches or one
//!   persistent dispatch);
//! - `lstm_train_step`: a whole LSTM training step at B=64, T=100, F=10, units=128 (on a GPU
//!   with the kernels `Auto` picks, then per-step and persistent);
//! - `workloads`: a steady training step of the performance issue's W2 (the seed MLP, batch
//!   128) and W4 / W4u (masked / unmasked LSTM(128), batch 64, T=100);
//! - `step_overhead`: a training step of a tiny model (Dense(1) on 4 features, batch 1), the
//!   floor a device's per-step cost sets; the dispatches per step are printed.
//!
//!     cargo bench --bench training

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array1, Array2, Array3};
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
    for u in [32, 64, 128] {
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
    // On a GPU, once per LSTM kernel choice: `Auto` (what a model gets), then each kernel.
    let mut runs: Vec<(String, Device, LstmKernel)> = Vec::new();
    for (name, device) in devices() {
        runs.push((name.to_string(), device.clone(), LstmKernel::Auto));
        if device.is_gpu() {
            for kernel in [LstmKernel::PerStep, LstmKernel::Persistent] {
                runs.push((format!("{name}_{kernel:?}"), device.clone(), kernel));
            }
        }
    }
    for (name, device, kernel) in runs {
        let mut model = Sequential::new()
            .add(Lstm::new(u).kernel(kernel).input_shape([None, Some(f)]))
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

fn workloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("workloads");
    group.sample_size(10);
    let mlp_x = Array3::from_shape_vec((128, 28, 28), values(128 * 784, 0.5)).unwrap();
    let mlp_y = Array2::from_shape_fn((128, 10), |(i, j)| f32::from(i % 10 == j));
    let (b, t) = (64, 100);
    // Sequences of 10..100 steps, post-padded with zeros to 100.
    let lstm_x = Array3::from_shape_fn((b, t, 10), |(i, s, f)| {
        let len = 10 + (i * 37) % 91;
        if s < len {
            0.05 + ((i + s + f) % 19) as f32 / 20.0
        } else {
            0.0
        }
    });
    let lstm_y = Array1::from_shape_fn(b, |i| (i % 2) as f32);
    for (name, device) in devices() {
        let mut mlp = Sequential::new()
            .add(Flatten::new().input_shape([28, 28]))
            .add(Dense::new(128).activation(Activation::Relu))
            .add(Dense::new(10).activation(Activation::Softmax));
        mlp.compile(
            &device,
            Optimizer::adam(),
            Loss::CategoricalCrossentropy,
            &[],
        )
        .unwrap();
        group.throughput(Throughput::Elements(128));
        group.bench_function(BenchmarkId::new("W2_step", name), |bench| {
            bench.iter(|| mlp.train_on_batch(&mlp_x, &mlp_y).unwrap())
        });
        for masked in [true, false] {
            let inputs = Input::new([None, Some(10)]);
            let seq = if masked {
                Masking::new(0.0).call(&inputs)
            } else {
                inputs.clone()
            };
            let out = Dense::new(1)
                .activation(Activation::Sigmoid)
                .call(&Lstm::new(128).call(&seq));
            let mut model = Model::new(&inputs, &out).unwrap();
            model
                .compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
                .unwrap();
            group.throughput(Throughput::Elements(b as u64));
            let id = if masked { "W4_step" } else { "W4u_step" };
            group.bench_function(BenchmarkId::new(id, name), |bench| {
                bench.iter(|| model.train_on_batch(&lstm_x, &lstm_y).unwrap())
            });
        }
    }
    group.finish();
}

fn step_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_overhead");
    let x = Array2::from_shape_vec((1, 4), vec![0.1, 0.2, 0.3, 0.4]).unwrap();
    let y = Array2::from_shape_vec((1, 1), vec![1.0]).unwrap();
    for (name, device) in devices() {
        let mut model = Sequential::new().add(Dense::new(1).input_shape([4]));
        model
            .compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])
            .unwrap();
        model.train_on_batch(&x, &y).unwrap();
        if let Some(ctx) = device.gpu_context() {
            let before = ctx.counters();
            model.train_on_batch(&x, &y).unwrap();
            let after = ctx.counters();
            eprintln!(
                "step_overhead/{name}: {} dispatches, {} submits, {} readbacks per train_on_batch",
                after.dispatches - before.dispatches,
                after.submits - before.submits,
                after.readbacks - before.readbacks
            );
        }
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("dense_1x4_batch1", name), |bench| {
            bench.iter(|| model.train_on_batch(&x, &y).unwrap())
        });
        // Inside `fit` a step reads nothing back: 64 steps of batch 1, per step.
        let xs = Array2::from_shape_fn((64, 4), |(i, j)| ((i + j) % 5) as f32 / 5.0);
        let ys = Array2::from_shape_fn((64, 1), |(i, _)| (i % 3) as f32);
        let opts = || FitOptions::new().batch_size(1).epochs(1).verbose(0);
        if let Some(ctx) = device.gpu_context() {
            model.fit(&xs, &ys, opts()).unwrap();
            let before = ctx.counters();
            model.fit(&xs, &ys, opts()).unwrap();
            let after = ctx.counters();
            eprintln!(
                "step_overhead/{name}: fit of 64 steps: {} dispatches, {} submits, {} readbacks",
                after.dispatches - before.dispatches,
                after.submits - before.submits,
                after.readbacks - before.readbacks
            );
        }
        group.throughput(Throughput::Elements(64));
        group.bench_function(BenchmarkId::new("fit_64_steps_batch1", name), |bench| {
            bench.iter(|| model.fit(&xs, &ys, opts()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    lstm_forward_kernels,
    lstm_train_step,
    workloads,
    step_overhead
);
criterion_main!(benches);
