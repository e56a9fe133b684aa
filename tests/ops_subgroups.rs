//! Subgroup kernels: every op with a subgroup variant runs on the CPU reference and on the GPU
//! with subgroups on and off (each also with dispatches split into 2-d grids), on fresh random
//! inputs of awkward sizes, with outputs poisoned beforehand. Where the adapter lacks
//! subgroups the "on" devices run the workgroup-memory paths and the tests say so loudly
//! (`WGFIT_REQUIRE_SUBGROUPS=1` turns that into a failure).

mod common;

use common::{Input, gpus_with_subgroups, random_input, rng, subgroups_in_use, uniform};
use rand::Rng;
use wgfit::ops::masked_reduce::{masked_mean, masked_sum};
use wgfit::ops::reduce::{mean, sum};
use wgfit::ops::softmax::{softmax, softmax_backward, softmax_xent_forward};
use wgfit::{Device, GpuOptions, Tensor};

/// What a GPU output's difference from the CPU's is measured against.
#[derive(Clone, Copy)]
enum Scale {
    /// Each element's own magnitude.
    Elementwise,
    /// Each output's sum of absolute terms: the op run on `|x|` (a sum in another order can
    /// differ by more than 1e-5 of a result that cancels to near 0, never of this).
    SumOfAbs,
    /// The whole output's norm.
    Norm,
}

const LIMIT: f32 = 1e-5;

fn run(
    device: &Device,
    inputs: &[Input],
    op: &impl Fn(&[Tensor]) -> wgfit::Result<Vec<Tensor>>,
) -> Vec<Vec<f32>> {
    let tensors: Vec<Tensor> = inputs
        .iter()
        .map(|(shape, values)| Tensor::from_vec(device, shape.clone(), values.clone()).unwrap())
        .collect();
    let outputs = op(&tensors).unwrap_or_else(|e| panic!("on {}: {e}", device.info()));
    outputs
        .iter()
        .map(|t| t.to_vec_blocking().unwrap())
        .collect()
}

/// Largest `|g - w| / scale` (0 where equal; NaN or a length mismatch is infinite).
fn err(got: &[f32], want: &[f32], scale: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    got.iter()
        .zip(want)
        .zip(scale)
        .map(|((&g, &w), &s)| match () {
            _ if g == w => 0.0,
            // NaN anywhere fails (`f32::max` would drop it).
            _ => match (g - w).abs() / s {
                e if e.is_nan() => f32::INFINITY,
                e => e,
            },
        })
        .fold(0.0, f32::max)
}

/// Runs `op` on the CPU and on the GPUs with subgroups on and off, and checks every GPU
/// output against the CPU's and the two GPU paths against each other, all within [`LIMIT`]
/// under `scale`. Says loudly where the "on" devices run no subgroup kernels (and fails then
/// under `WGFIT_REQUIRE_SUBGROUPS=1`).
fn twins(
    name: &str,
    inputs: &[Input],
    scale: Scale,
    op: impl Fn(&[Tensor]) -> wgfit::Result<Vec<Tensor>>,
) {
    let (Some(on), Some(off)) = (gpus_with_subgroups(true), gpus_with_subgroups(false)) else {
        return;
    };
    for device in &on {
        subgroups_in_use(device);
    }
    let cpu = Device::cpu();
    let want = run(&cpu, inputs, &op);
    let scales: Vec<Vec<f32>> = match scale {
        Scale::Elementwise => want
            .iter()
            .map(|w| w.iter().map(|v| v.abs()).collect())
            .collect(),
        Scale::SumOfAbs => {
            let abs: Vec<Input> = inputs
                .iter()
                .map(|(s, v)| (s.clone(), v.iter().map(|x| x.abs()).collect()))
                .collect();
            run(&cpu, &abs, &op)
        }
        Scale::Norm => want
            .iter()
            .map(|w| {
                let norm = w.iter().map(|v| v * v).sum::<f32>().sqrt();
                vec![norm; w.len()]
            })
            .collect(),
    };
    // The first subgroup device's outputs, which every other device is also held to.
    let mut first_on: Option<Vec<Vec<f32>>> = None;
    for device in on.iter().chain(&off) {
        let got = run(device, inputs, &op);
        let path = device.gpu_context().unwrap().features();
        let reference = first_on.get_or_insert_with(|| got.clone());
        for (i, g) in got.iter().enumerate() {
            assert!(
                want[i].iter().all(|v| v.is_finite()),
                "{name}: CPU output {i} is not finite"
            );
            for (what, w) in [("the CPU", &want[i]), ("subgroups on", &reference[i])] {
                let e = err(g, w, &scales[i]);
                assert!(
                    e <= LIMIT,
                    "{name}: output {i} on {} ({path}) differs from {what} by {e:e}",
                    device.info()
                );
            }
        }
    }
}

#[test]
fn subgroup_sums_and_means_match_the_cpu_and_the_workgroup_path() {
    let mut rng = rng("subgroup_reduce");
    // 1, primes, axes longer than a 256-invocation workgroup, 70 000 outputs (more workgroups
    // than one dispatch dimension holds), and a bias gradient's [6400, 512] column sum. Axes
    // past 65 535 terms, which a software adapter's loop limit makes the host split over
    // dispatches, are tests/ops_long_loops.rs's.
    let cases: &[(&[usize], &[usize])] = &[
        (&[1], &[0]),
        (&[7], &[0]),
        (&[31, 257], &[0, 1]),
        (&[1031], &[0]),
        (&[3, 1031, 7], &[0, 1, 2]),
        (&[257, 2, 31], &[0, 1, 2]),
        (&[70_000, 3], &[1]),
        (&[2, 65_521], &[1]),
        (&[6400, 512], &[0, 1]),
    ];
    for &(shape, axes) in cases {
        let x = random_input(&mut rng, shape);
        for &axis in axes {
            let name = format!("reduce {shape:?} axis {axis}");
            twins(&name, std::slice::from_ref(&x), Scale::SumOfAbs, |t| {
                Ok(vec![sum(&t[0], axis)?, mean(&t[0], axis)?])
            });
        }
    }
}

fn one_hot(rng: &mut rand::rngs::StdRng, rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0.0; rows * cols];
    for r in 0..rows {
        y[r * cols + rng.random_range(0..cols)] = 1.0;
    }
    y
}

#[test]
fn subgroup_softmax_matches_the_cpu_and_the_workgroup_path_including_ties() {
    let mut rng = rng("subgroup_softmax");
    let sizes = [
        (1, 1),
        (7, 10),
        (128, 10),
        (31, 257),
        (3, 1031),
        (2, 4099),
        (70_000, 3),
    ];
    for (rows, cols) in sizes {
        let n = rows * cols;
        // Integer logits tie often: the max and the count of entries equal to it must be exact.
        let ties: Vec<f32> = (0..n).map(|_| rng.random_range(-3..=3) as f32).collect();
        for (kind, z) in [("uniform", uniform(&mut rng, n, -8.0, 8.0)), ("ties", ties)] {
            let name = format!("softmax [{rows}, {cols}] {kind}");
            let z = (vec![rows, cols], z);
            let y = (vec![rows, cols], one_hot(&mut rng, rows, cols));
            twins(&name, &[z.clone(), y], Scale::Elementwise, |t| {
                let (p, loss) = softmax_xent_forward(&t[0], &t[1])?;
                Ok(vec![softmax(&t[0])?, p, loss])
            });
            let probs = (vec![rows, cols], uniform(&mut rng, n, 0.0, 1.0));
            // p (dy - sum(dy p)) cancels where dy is near the sum: compared to the output's
            // norm, as tests/ops_training.rs does.
            twins(&format!("{name} backward"), &[probs, z], Scale::Norm, |t| {
                Ok(vec![softmax_backward(&t[0], &t[1])?])
            });
        }
    }
}

#[test]
fn subgroup_masked_sums_and_means_match_the_cpu_and_the_workgroup_path() {
    let mut rng = rng("subgroup_masked_reduce");
    let sizes = [
        (1, 1, 1),
        (7, 31, 3),
        (3, 257, 2),
        (2, 1031, 5),
        (131, 7, 1),
        (70_000, 2, 1),
    ];
    for (b, t, f) in sizes {
        let mut mask: Vec<f32> = (0..b * t)
            .map(|_| f32::from(u8::from(rng.random_bool(0.7))))
            .collect();
        // Row 0 keeps no step: its mean must be 0, not NaN.
        mask[..t].fill(0.0);
        let mask = (vec![b, t], mask);
        let name = format!("masked_reduce [{b}, {t}, {f}]");
        let x = random_input(&mut rng, &[b, t, f]);
        twins(&name, &[x, mask.clone()], Scale::SumOfAbs, |x| {
            Ok(vec![masked_sum(&x[0], &x[1])?, masked_mean(&x[0], &x[1])?])
        });
        let x2 = random_input(&mut rng, &[b, t]);
        twins(&format!("{name} 2-d"), &[x2, mask], Scale::SumOfAbs, |x| {
            Ok(vec![masked_mean(&x[0], &x[1])?])
        });
    }
}

#[test]
fn a_device_opened_without_subgroups_runs_the_workgroup_paths() {
    if gpus_with_subgroups(false).is_none() {
        return;
    }
    // An app's device, opened with no optional feature (as a GL adapter would have none).
    let adapter = common::app_adapter();
    let (dev, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let options = GpuOptions {
        poison_outputs: true,
        ..GpuOptions::default()
    };
    let device = Device::from_wgpu_with(dev, queue, options).unwrap();
    let features = device.gpu_context().unwrap().features();
    assert!(!features.subgroups, "{features}");
    assert_eq!(features.subgroup_use, wgfit::SubgroupUse::Off, "{features}");
    let z: Vec<f32> = (0..12).map(|i| (i % 5) as f32 * 0.5 - 1.0).collect();
    let mask = vec![1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0];
    let run = |d: &Device| {
        let x = Tensor::from_vec(d, [2, 6], z.clone()).unwrap();
        let m = Tensor::from_vec(d, [2, 6], mask.clone()).unwrap();
        [
            sum(&x, 1).unwrap(),
            softmax(&x).unwrap(),
            masked_mean(&x, &m).unwrap(),
        ]
        .map(|t| t.to_vec_blocking().unwrap())
    };
    let (got, want) = (run(&device), run(&Device::cpu()));
    for (g, w) in got.iter().zip(&want) {
        assert!(err(g, w, &w.iter().map(|v| v.abs()).collect::<Vec<_>>()) <= LIMIT);
    }
}
