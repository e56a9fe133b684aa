//! Kernel throughput: matmul GFLOP/s on the GPU (tiled and naive kernels) and on the CPU
//! reference, side by side, in one run. Criterion's "elem/s" is FLOP/s here (2·n³ per op).
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
    let mut sizes = vec![64, 256, 1024];
    if !software_gpu {
        sizes.extend([2048, 4096]);
    }
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10);
    for &n in &sizes {
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        let values: Vec<f32> = (0..n * n).map(|i| (i % 17) as f32 / 17.0 - 0.5).collect();
        let mut devices = vec![("cpu", Device::cpu(), MatmulKernel::Tiled)];
        if let Some(g) = &gpu {
            devices.push(("gpu_tiled", g.clone(), MatmulKernel::Tiled));
            devices.push(("gpu_naive", g.clone(), MatmulKernel::Naive));
        }
        for (name, device, kernel) in devices {
            let a = Tensor::from_vec(&device, [n, n], values.clone()).unwrap();
            let b = Tensor::from_vec(&device, [n, n], values.clone()).unwrap();
            group.bench_with_input(BenchmarkId::new(name, n), &n, |bench, _| {
                bench.iter(|| {
                    let c = matmul_with(&a, &b, Transpose::None, kernel).unwrap();
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
