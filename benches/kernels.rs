//! Kernel throughput: matmul GFLOP/s on the GPU (tiled and naive kernels) and on the CPU
//! reference, side by side, in one run: square sizes 64..4096 and the skinny shapes an LSTM
//! step trains with. Criterion's "elem/s" is FLOP/s here (2·m·n·k per op).
//!
//!     cargo bench --bench kernels

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wgfit::ops::matmul::{MatmulKernel, Transpose, matmul_with};
use wgfit::{Device, Tensor};

fn matmul_gflops(c: &mut Criterion) {
    let gpu = Device::gpu().ok();
    let software_gpu = gpu
        .as_ref()
        .is_none_or(|d| d.info().to_string().contains("Cpu]"));
    eprintln!(
        "GPU: {}",
        gpu.as_ref()
            .map_or("none".to_string(), |d| d.info().to_string())
    );
    // (label, m, k, n, transpose): square sizes, then an LSTM's (B=64, T=100, F=10, U=128)
    // input projection [B·T, F]·[F, 4U], recurrent step [B, U]·[U, 4U] and recurrent-kernel
    // gradient hprevᵀ·dz = [U, B·T]·[B·T, 4U].
    let mut shapes: Vec<(String, usize, usize, usize, Transpose)> = [64, 256, 1024, 2048, 4096]
        .into_iter()
        .map(|n| (n.to_string(), n, n, n, Transpose::None))
        .collect();
    shapes.push(("xproj_6400x10x512".into(), 6400, 10, 512, Transpose::None));
    shapes.push(("step_64x128x512".into(), 64, 128, 512, Transpose::None));
    shapes.push(("dW_128x6400x512_At".into(), 128, 6400, 512, Transpose::A));
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10);
    for (label, m, k, n, transpose) in shapes {
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        let values =
            |len: usize| -> Vec<f32> { (0..len).map(|i| (i % 17) as f32 / 17.0 - 0.5).collect() };
        let mut devices = vec![("cpu", Device::cpu(), MatmulKernel::Tiled)];
        // A software adapter takes minutes per op past 1024; it is skipped there.
        let big = m * k * n > 1 << 30;
        if let Some(g) = gpu.as_ref().filter(|_| !(software_gpu && big)) {
            devices.push(("gpu_tiled", g.clone(), MatmulKernel::Tiled));
            devices.push(("gpu_naive", g.clone(), MatmulKernel::Naive));
        }
        let a_dims = if transpose == Transpose::A {
            [k, m]
        } else {
            [m, k]
        };
        for (name, device, kernel) in devices {
            let a = Tensor::from_vec(&device, a_dims, values(m * k)).unwrap();
            let b = Tensor::from_vec(&device, [k, n], values(k * n)).unwrap();
            group.bench_function(BenchmarkId::new(name, &label), |bench| {
                bench.iter(|| {
                    let c = matmul_with(&a, &b, transpose, kernel).unwrap();
                    device.synchronize_blocking().unwrap();
                    c
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, matmul_gflops);
criterion_main!(benches);
