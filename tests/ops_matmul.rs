//! The matmul kernels and the fused `matmul_bias_act` against the CPU twin, same rules as
//! tests/ops.rs: fresh random inputs of awkward sizes, outputs poisoned with NaN, each case run
//! on the GPU as is and with dispatches folded into 2-d grids, error <= 1e-5 of the norm.

mod common;

use common::{Input, Tol, cross_check, gpu, random_input, rng, uniform};
use wgfit::ops::matmul::{
    MatmulKernel, Transpose, matmul_bias_act, matmul_with, vec4_variant, vec4_variants,
};
use wgfit::{Activation, Device, Error, GpuContext, GpuOptions, Tensor};

const TRANSPOSES: [Transpose; 4] = [Transpose::None, Transpose::A, Transpose::B, Transpose::Both];
const ACTIVATIONS: [Activation; 4] = [
    Activation::Linear,
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
];

/// Random a and b for `op(a)·op(b)` of `[batch.., M, K]·[batch.., K, N]`; `shared_b` makes b
/// a single `[K, N]` (or `[N, K]`).
fn operands(
    rng: &mut rand::rngs::StdRng,
    batch: &[usize],
    (m, n, k): (usize, usize, usize),
    t: Transpose,
    shared_b: bool,
) -> [Input; 2] {
    let (ta, tb) = (
        matches!(t, Transpose::A | Transpose::Both),
        matches!(t, Transpose::B | Transpose::Both),
    );
    let mut a_shape = batch.to_vec();
    a_shape.extend(if ta { [k, m] } else { [m, k] });
    let mut b_shape = if shared_b { vec![] } else { batch.to_vec() };
    b_shape.extend(if tb { [n, k] } else { [k, n] });
    [random_input(rng, &a_shape), random_input(rng, &b_shape)]
}

/// (batch dims, (M, N, K), whether b is one `[K, N]` shared by the batch).
type Case = (&'static [usize], (usize, usize, usize), bool);

/// 1, primes, multiples of 4 (the vec4 loads) and not, K = 0, outputs past one tile of each
/// of the vec4 kernel's shapes (256 x 250 takes 128x128 tiles, 60 x 260 64x64 ones and
/// 67 x 131 32x32 ones), batched with a b per entry and with a shared b. Under the four
/// transposes they reach all 60 vec4 variants a software adapter picks (3 tiles x vec4 or
/// scalar I/O for a, b and c x the transposes, where the I/O agrees with the transposes:
/// [`the_cases_reach_every_vec4_variant`]); per tile, M, N multiples of 4 with K not, and
/// M, N not with K a multiple of 4, give all eight I/O combinations.
const CASES: &[Case] = &[
    (&[], (256, 252, 13), false),
    (&[], (255, 250, 20), false),
    (&[], (60, 260, 23), false),
    (&[], (61, 259, 24), false),
    (&[], (4, 8, 13), false),
    (&[], (7, 13, 32), false),
    (&[], (1, 1, 1), false),
    (&[], (7, 13, 31), false),
    (&[], (67, 131, 13), false),
    (&[], (131, 67, 257), false),
    (&[], (4, 8, 12), false),
    (&[], (256, 250, 40), false),
    (&[], (252, 256, 20), false),
    (&[], (60, 260, 24), false),
    (&[], (260, 136, 68), false),
    (&[], (129, 4, 1), false),
    (&[], (3, 300, 0), false),
    (&[3], (33, 17, 70), false),
    (&[2, 2], (5, 3, 2), false),
    (&[3], (68, 132, 20), false),
    (&[4], (19, 37, 11), true),
    (&[2], (72, 40, 16), true),
    // With the transposes compile-time constants, the I/O combinations again per transpose.
    (&[], (64, 258, 13), false),
    (&[], (255, 250, 13), false),
    (&[], (255, 252, 13), false),
    (&[], (62, 260, 13), false),
    (&[], (68, 131, 13), false),
    (&[], (256, 250, 13), false),
    (&[], (255, 252, 20), false),
    (&[], (61, 259, 13), false),
    (&[], (64, 258, 20), false),
    (&[], (62, 260, 20), false),
    (&[], (68, 131, 20), false),
    (&[], (67, 132, 20), false),
];

/// Whether the variant `name` (`matmul_vec4_{tile}_{I/O letters}_{transposes}`, without
/// prefetch) can be
/// asked for: its vec4 flags must agree where two operands share a contiguous dim (b and c
/// share N unless b is transposed; a and b share K when a is not and b is).
fn reachable(name: &str) -> bool {
    let parts: Vec<&str> = name.rsplitn(3, '_').collect();
    let (io, ops) = (parts[1].as_bytes(), parts[0].as_bytes());
    let (a, b, c) = (io[0], io[1], io[2]);
    match ops {
        b"nn" | b"tn" => b == c,
        b"nt" => a == b,
        _ => true,
    }
}

/// On any adapter with at least WebGPU's limits (every tile fits, so the choice is the
/// output's size alone), `CASES` under the four transposes reach every vec4 variant that a
/// software adapter can choose (those of its three tiles whose I/O agrees with their shape);
/// tests/ops_matmul_split.rs runs the other two tiles.
#[test]
fn the_cases_reach_every_vec4_variant() {
    let limits = wgpu::Limits::default();
    let reached: std::collections::BTreeSet<&str> = CASES
        .iter()
        .flat_map(|&(batch, (m, n, k), _)| {
            let batch = batch.iter().product();
            TRANSPOSES.map(|t| vec4_variant(&limits, (batch, m, n, k), t, None).unwrap().0)
        })
        .collect();
    let software_tiles = ["128x128x16", "64x64x16", "32x32x16"];
    let all: std::collections::BTreeSet<&str> = vec4_variants()
        .into_iter()
        // Software adapters do not prefetch (`_p`); tests/ops_matmul_split.rs forces those.
        .filter(|v| !v.ends_with("_p"))
        .filter(|v| reachable(v) && software_tiles.iter().any(|t| v.contains(t)))
        .collect();
    assert_eq!(vec4_variants().len(), 5 * 32 * 2);
    assert_eq!(all.len(), 3 * (4 + 4 + 4 + 8));
    let missed: Vec<_> = all.difference(&reached).collect();
    assert!(missed.is_empty(), "CASES never run {missed:?}");
}

#[test]
fn every_matmul_kernel_matches_cpu_for_every_transpose_and_awkward_shapes() {
    let mut rng = rng("matmul_kernels");
    for &(batch, mnk, shared_b) in CASES {
        for t in TRANSPOSES {
            let inputs = operands(&mut rng, batch, mnk, t, shared_b);
            for kernel in [MatmulKernel::Vec4, MatmulKernel::Tiled, MatmulKernel::Naive] {
                let name = format!(
                    "matmul {kernel:?} {t:?} a{:?} b{:?}",
                    inputs[0].0, inputs[1].0
                );
                cross_check(&name, &inputs, Tol::Norm(1e-5), |x| {
                    Ok(vec![matmul_with(&x[0], &x[1], t, kernel)?])
                });
            }
        }
    }
}

#[test]
fn matmul_bias_act_matches_cpu_for_every_activation_transpose_and_awkward_shapes() {
    let mut rng = rng("matmul_bias_act");
    for &(batch, mnk, shared_b) in CASES {
        let n = mnk.1;
        for t in TRANSPOSES {
            let [a, b] = operands(&mut rng, batch, mnk, t, shared_b);
            let bias = (vec![n], uniform(&mut rng, n, -2.0, 2.0));
            for act in ACTIVATIONS {
                let name = format!("matmul_bias_act {act:?} {t:?} a{:?} b{:?}", a.0, b.0);
                let inputs = [a.clone(), b.clone(), bias.clone()];
                cross_check(&name, &inputs, Tol::Norm(1e-5), |x| {
                    Ok(vec![matmul_bias_act(&x[0], &x[1], t, Some(&x[2]), act)?])
                });
                let inputs = [a.clone(), b.clone()];
                cross_check(&format!("{name} no bias"), &inputs, Tol::Norm(1e-5), |x| {
                    Ok(vec![matmul_bias_act(&x[0], &x[1], t, None, act)?])
                });
            }
        }
    }
}

#[test]
fn vec4_matmul_and_its_epilogue_with_more_workgroups_than_one_dimension_allows() {
    // 70 000 batch entries of one tile each: past the 65 535 workgroups of a dispatch
    // dimension on any adapter, so the grid is folded into two dimensions; K = 8 and N = 4
    // take the vec4 loads, N = 3 the scalar ones.
    let mut rng = rng("matmul_vec4_large_dispatch");
    for (k, n) in [(8, 4), (3, 3)] {
        let inputs = [
            random_input(&mut rng, &[70_000, 2, k]),
            random_input(&mut rng, &[70_000, k, n]),
            random_input(&mut rng, &[n]),
        ];
        cross_check(
            &format!("matmul 70000 x [2, {k}]·[{k}, {n}]"),
            &inputs,
            Tol::Norm(1e-5),
            |x| {
                Ok(vec![
                    matmul_with(&x[0], &x[1], Transpose::None, MatmulKernel::Vec4)?,
                    matmul_bias_act(&x[0], &x[1], Transpose::None, Some(&x[2]), Activation::Tanh)?,
                ])
            },
        );
    }
}

#[test]
fn fused_and_unfused_dense_forward_agree_on_the_gpu() {
    let Some(device) = gpu() else { return };
    let mut rng = rng("matmul_bias_act_vs_unfused");
    let (m, k, n) = (67, 128, 10);
    let x = Tensor::from_vec(&device, [m, k], uniform(&mut rng, m * k, -1.0, 1.0)).unwrap();
    let w = Tensor::from_vec(&device, [k, n], uniform(&mut rng, k * n, -1.0, 1.0)).unwrap();
    let bias = Tensor::from_vec(&device, [n], uniform(&mut rng, n, -1.0, 1.0)).unwrap();
    for act in ACTIVATIONS {
        let fused = matmul_bias_act(&x, &w, Transpose::None, Some(&bias), act).unwrap();
        let xw = matmul_with(&x, &w, Transpose::None, MatmulKernel::Vec4).unwrap();
        let unfused = wgfit::ops::bias_act::bias_act_forward(&xw, Some(&bias), act).unwrap();
        // Same kernel, same summation order, same activation formulas: bit for bit.
        assert_eq!(
            fused.to_vec_blocking().unwrap(),
            unfused.to_vec_blocking().unwrap(),
            "{act:?}"
        );
    }
}

#[test]
fn matmul_bias_act_refuses_softmax_and_a_bias_of_the_wrong_length() {
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    for device in devices {
        let a = Tensor::from_vec(&device, [2, 3], vec![1.0; 6]).unwrap();
        let b = Tensor::from_vec(&device, [3, 4], vec![1.0; 12]).unwrap();
        let bias = Tensor::from_vec(&device, [4], vec![0.0; 4]).unwrap();
        let softmax = matmul_bias_act(&a, &b, Transpose::None, Some(&bias), Activation::Softmax);
        match softmax {
            Err(Error::Config(m)) => assert!(m.contains("softmax"), "{m}"),
            other => panic!(
                "softmax on {}: expected a config error, got {other:?}",
                device.info()
            ),
        }
        let bad = Tensor::from_vec(&device, [3], vec![0.0; 3]).unwrap();
        let wrong = matmul_bias_act(&a, &b, Transpose::None, Some(&bad), Activation::Relu);
        assert!(
            matches!(wrong, Err(Error::Shape(_))),
            "on {}",
            device.info()
        );
    }
}

/// lavapipe opened with limits below WebGPU's: 64 invocations per workgroup (and a downlevel
/// adapter's 16 352 bytes of workgroup memory, which wgpu 30 does not enforce). The 256
/// invocations of the 128x128 tile would fail to build the pipeline, so the kernel must take
/// a smaller one even for an output of several 128x128 tiles.
#[test]
fn vec4_matmul_runs_on_an_adapter_with_limits_below_webgpu_s() {
    if gpu().is_none() {
        return;
    }
    let adapter = common::app_adapter();
    let limits = wgpu::Limits {
        max_compute_invocations_per_workgroup: 64,
        ..wgpu::Limits::downlevel_defaults()
    };
    let (dev, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_limits: limits,
        ..Default::default()
    }))
    .unwrap();
    // Too small for whole models (4 storage buffers): adopted for this op alone.
    let options = GpuOptions {
        poison_outputs: true,
        ops_only: true,
        ..GpuOptions::default()
    };
    let device = Device::from(GpuContext::adopt(dev, queue, options).unwrap());
    let mut rng = rng("matmul_downlevel");
    let (m, n, k) = (255, 252, 36);
    let a = uniform(&mut rng, m * k, -1.0, 1.0);
    let b = uniform(&mut rng, k * n, -1.0, 1.0);
    let bias = uniform(&mut rng, n, -1.0, 1.0);
    let run = |d: &Device| {
        let a = Tensor::from_vec(d, [m, k], a.clone()).unwrap();
        let b = Tensor::from_vec(d, [k, n], b.clone()).unwrap();
        let bias = Tensor::from_vec(d, [n], bias.clone()).unwrap();
        let c = matmul_bias_act(&a, &b, Transpose::None, Some(&bias), Activation::Relu);
        c.and_then(|c| c.to_vec_blocking())
            .unwrap_or_else(|e| panic!("on {}: {e}", d.info()))
    };
    let (got, want) = (run(&device), run(&Device::cpu()));
    let err = common::norm_rel_err(&got, &want);
    assert!(err <= 1e-5, "64 invocations per workgroup: error {err:e}");
}
