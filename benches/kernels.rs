//! Kernel throughput: matmul GFLOP/s on the GPU (vec4, tiled and naive kernels) and on the
//! CPU reference, side by side, in one run: square sizes 64..4096 and the skinny shapes W2's
//! MLP and an LSTM train with, each timed one product per submit + wait (`gpu_vec4`, ...: the
//! round trip included) and, for the vec4 kernel, many per submit (`gpu_vec4_queued`: the time
//! per product without it); then a Dense forward, `matmul_bias_act` (one dispatch) against
//! `matmul` + `bias_act_forward` (two). Criterion's "elem/s" is FLOP/s here (2·m·n·k per op).
//! The `reductions` group times sum, softmax and masked mean with subgroups on and off
//! (GB/s of input read), on an adapter that has them. `dispatch_record` is the host's side of
//! one op on the GPU: the time to record a dispatch (its parameters, bind group and pass),
//! without the GPU's time to run it.
//!
//!     cargo bench --bench kernels
//!     cargo bench --bench kernels -- reductions

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wgfit::ops::bias_act::bias_act_forward;
use wgfit::ops::masked_reduce::masked_mean;
use wgfit::ops::matmul::{MatmulKernel, Transpose, matmul_bias_act, matmul_with};
use wgfit::ops::reduce::sum;
use wgfit::ops::softmax::softmax;
use wgfit::{Activation, Device, GpuOptions, SubgroupUse, Tensor};

fn values(len: usize) -> Vec<f32> {
    (0..len).map(|i| (i % 17) as f32 / 17.0 - 0.5).collect()
}

fn gpu_device() -> Option<Device> {
    let gpu = Device::gpu().ok();
    eprintln!(
        "GPU: {}",
        gpu.as_ref()
            .map_or("none".to_string(), |d| d.info().to_string())
    );
    gpu
}

fn matmul_gflops(c: &mut Criterion) {
    let gpu = gpu_device();
    let software_gpu = gpu
        .as_ref()
        .is_none_or(|d| d.info().to_string().contains("Cpu]"));
    // (label, m, k, n, transpose): square sizes; W2's first Dense, forward [128,784]·[784,128]
    // and weight gradient xᵀ·dy; then an LSTM's (B=64, T=100, F=10, U=128: W4) input
    // projection [B·T, F]·[F, 4U], recurrent step [B, U]·[U, 4U] and weight gradients
    // xᵀ·dz = [F, B·T]·[B·T, 4U] and hprevᵀ·dz = [U, B·T]·[B·T, 4U].
    let mut shapes: Vec<(String, usize, usize, usize, Transpose)> =
        [64, 128, 256, 512, 1024, 2048, 4096]
            .into_iter()
            .map(|n| (n.to_string(), n, n, n, Transpose::None))
            .collect();
    shapes.push(("w2_xW_128x784x128".into(), 128, 784, 128, Transpose::None));
    shapes.push(("w2_dW_784x128x128_At".into(), 784, 128, 128, Transpose::A));
    shapes.push(("xproj_6400x10x512".into(), 6400, 10, 512, Transpose::None));
    shapes.push(("step_64x128x512".into(), 64, 128, 512, Transpose::None));
    shapes.push(("dWx_10x6400x512_At".into(), 10, 6400, 512, Transpose::A));
    shapes.push(("dW_128x6400x512_At".into(), 128, 6400, 512, Transpose::A));
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10);
    for (label, m, k, n, transpose) in shapes {
        let flops = 2 * (m * k * n) as u64;
        // A software adapter takes minutes per op past 1024; it is skipped there.
        let big = m * k * n > 1 << 30;
        let gpu = gpu.as_ref().filter(|_| !(software_gpu && big));
        let a_dims = if transpose == Transpose::A {
            [k, m]
        } else {
            [m, k]
        };
        let operands = |device: &Device| {
            let a = Tensor::from_vec(device, a_dims, values(m * k)).unwrap();
            let b = Tensor::from_vec(device, [k, n], values(k * n)).unwrap();
            (a, b)
        };
        // One product per submit and wait: on a GPU, for sizes whose product takes less than
        // the round trip (tens of microseconds), this measures the round trip.
        group.throughput(Throughput::Elements(flops));
        let mut devices = vec![("cpu", Device::cpu(), MatmulKernel::Tiled)];
        if let Some(g) = gpu {
            devices.push(("gpu_vec4", g.clone(), MatmulKernel::Vec4));
            devices.push(("gpu_tiled", g.clone(), MatmulKernel::Tiled));
            devices.push(("gpu_naive", g.clone(), MatmulKernel::Naive));
        }
        for (name, device, kernel) in devices {
            let (a, b) = operands(&device);
            group.bench_function(BenchmarkId::new(name, &label), |bench| {
                bench.iter(|| {
                    let c = matmul_with(&a, &b, transpose, kernel).unwrap();
                    device.synchronize_blocking().unwrap();
                    c
                })
            });
        }
        // `queued`: many products recorded, then one submit and wait, the time per product
        // reported (throughput counts all of them): the GPU's rate without the round trip.
        let Some(g) = gpu else { continue };
        let queue = queued(m * k * n, software_gpu);
        group.throughput(Throughput::Elements(flops * queue as u64));
        let (a, b) = operands(g);
        group.bench_function(BenchmarkId::new("gpu_vec4_queued", &label), |bench| {
            bench.iter(|| {
                let cs: Vec<Tensor> = (0..queue)
                    .map(|_| matmul_with(&a, &b, transpose, MatmulKernel::Vec4).unwrap())
                    .collect();
                g.synchronize_blocking().unwrap();
                cs
            })
        });
    }
    group.finish();
}

/// Products per submit for the `queued` rows: about 2^31 multiply-adds (milliseconds on a
/// real GPU, far past its round trip), between 2 and 64; 2 on a software adapter, whose
/// products take milliseconds to seconds each anyway.
fn queued(mkn: usize, software: bool) -> usize {
    if software {
        return 2;
    }
    ((1usize << 31) / mkn.max(1)).clamp(2, 64)
}

/// One op on one input (and a mask for the masked mean).
type Reduction = fn(&Tensor, Option<&Tensor>) -> wgfit::Result<Tensor>;

fn reductions_subgroups_on_and_off(c: &mut Criterion) {
    let open = |subgroups| {
        Device::gpu_with(GpuOptions {
            subgroups,
            ..GpuOptions::default()
        })
        .ok()
    };
    let (Some(on), Some(off)) = (open(SubgroupUse::Always), open(SubgroupUse::Off)) else {
        eprintln!("reductions: no GPU");
        return;
    };
    let features = on.gpu_context().unwrap().features();
    eprintln!("reductions on {}: {features}", on.info());
    if !features.subgroups {
        eprintln!("reductions: this adapter has no subgroups; nothing to compare");
        return;
    }
    // A bias gradient's column sum over B·T = 6400 rows and its row sum; a loss total over
    // 60 000 rows (below 65 535: lavapipe ends longer shader loops early); a small classifier's
    // softmax and a wide one's; a masked mean over 100 steps of a [64, 100, 128] LSTM output.
    let cases: [(&str, Vec<usize>, Reduction); 6] = [
        ("sum_axis0_6400x512", vec![6400, 512], |x, _| sum(x, 0)),
        ("sum_axis1_6400x512", vec![6400, 512], |x, _| sum(x, 1)),
        ("sum_axis0_60000", vec![60_000], |x, _| sum(x, 0)),
        ("softmax_128x10", vec![128, 10], |x, _| softmax(x)),
        ("softmax_4096x1000", vec![4096, 1000], |x, _| softmax(x)),
        ("masked_mean_64x100x128", vec![64, 100, 128], |x, m| {
            masked_mean(x, m.expect("a mask"))
        }),
    ];
    let mut group = c.benchmark_group("reductions");
    group.sample_size(10);
    for (label, dims, op) in cases {
        let n: usize = dims.iter().product();
        group.throughput(Throughput::Bytes(4 * n as u64));
        for (name, device) in [("subgroups_on", &on), ("subgroups_off", &off)] {
            let values: Vec<f32> = (0..n).map(|i| (i % 17) as f32 / 17.0 - 0.5).collect();
            let x = Tensor::from_vec(device, dims.clone(), values).unwrap();
            let mask = (dims.len() == 3).then(|| {
                let steps = dims[0] * dims[1];
                let keep = (0..steps).map(|i| f32::from(i % 7 != 0)).collect();
                Tensor::from_vec(device, [dims[0], dims[1]], keep).unwrap()
            });
            group.bench_function(BenchmarkId::new(name, label), |bench| {
                bench.iter(|| {
                    let y = op(&x, mask.as_ref()).unwrap();
                    device.synchronize_blocking().unwrap();
                    y
                })
            });
        }
    }
    group.finish();
}

/// A Dense(128, relu) forward on a batch of 1024 MNIST-sized rows, `[1024, 784]·[784, 128]`,
/// fused and unfused; and Dense(10) after it, whose N = 10 takes the scalar-load path.
fn dense_forward(c: &mut Criterion) {
    let Some(gpu) = gpu_device() else { return };
    let mut group = c.benchmark_group("dense_forward");
    group.sample_size(10);
    for (m, k, n) in [(1024, 784, 128), (1024, 128, 10)] {
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        let x = Tensor::from_vec(&gpu, [m, k], values(m * k)).unwrap();
        let w = Tensor::from_vec(&gpu, [k, n], values(k * n)).unwrap();
        let bias = Tensor::from_vec(&gpu, [n], values(n)).unwrap();
        let label = format!("{m}x{k}x{n}_relu");
        group.bench_function(BenchmarkId::new("gpu_fused", &label), |bench| {
            bench.iter(|| {
                let y = matmul_bias_act(&x, &w, Transpose::None, Some(&bias), Activation::Relu)
                    .unwrap();
                gpu.synchronize_blocking().unwrap();
                y
            })
        });
        group.bench_function(BenchmarkId::new("gpu_unfused", &label), |bench| {
            bench.iter(|| {
                let xw = matmul_with(&x, &w, Transpose::None, MatmulKernel::Vec4).unwrap();
                let y = bias_act_forward(&xw, Some(&bias), Activation::Relu).unwrap();
                gpu.synchronize_blocking().unwrap();
                y
            })
        });
    }
    group.finish();
}

/// The host's cost of one op on a GPU: 100 one-element `affine` ops recorded (each a
/// dispatch: an output from the pool, a parameter slot, a bind group from the cache, recorded
/// into the open compute pass), timed
/// without the submit and the wait that follow. That is the floor a step's dispatch count sets
/// on any adapter, whatever its speed.
fn dispatch_record(c: &mut Criterion) {
    let Some(gpu) = gpu_device() else {
        return;
    };
    let mut group = c.benchmark_group("dispatch_record");
    group.throughput(Throughput::Elements(100));
    let x = Tensor::from_vec(&gpu, [1], vec![1.0]).unwrap();
    group.bench_function("affine_x100", |bench| {
        bench.iter_custom(|iters| {
            let mut recording = std::time::Duration::ZERO;
            for _ in 0..iters {
                let start = std::time::Instant::now();
                let mut y = x.clone();
                for _ in 0..100 {
                    y = wgfit::ops::elementwise::affine(&y, 1.0, 1.0).unwrap();
                }
                recording += start.elapsed();
                gpu.synchronize_blocking().unwrap();
                drop(y);
            }
            recording
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    matmul_gflops,
    dense_forward,
    reductions_subgroups_on_and_off,
    dispatch_record
);
criterion_main!(benches);
