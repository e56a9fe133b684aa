//! Shared test support: the GPU device under test, seeded random inputs, and comparisons.
#![allow(dead_code)]

pub mod golden;
pub mod padded;
pub mod python;
pub mod rnn;

use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::{Device, GpuOptions, SubgroupUse, Tensor};

/// The GPU the suite runs on, with every op output poisoned (NaN) before the op runs.
///
/// Without an adapter: fails when `WGFIT_REQUIRE_GPU=1` (as on CI), else says loudly that
/// the GPU half is skipped and returns `None`.
pub fn gpu() -> Option<Device> {
    static GPU: OnceLock<Option<Device>> = OnceLock::new();
    GPU.get_or_init(|| open_gpu(None)).clone()
}

/// A second GPU context that splits every dispatch over 3 workgroups into a 2-d grid, so
/// small inputs exercise the splitting that large ones need.
pub fn gpu_split() -> Option<Device> {
    static GPU: OnceLock<Option<Device>> = OnceLock::new();
    GPU.get_or_init(|| open_gpu(Some(3))).clone()
}

fn open_gpu(max_workgroups_per_dim: Option<u32>) -> Option<Device> {
    open_gpu_with(GpuOptions {
        poison_outputs: true,
        max_workgroups_per_dim,
        ..GpuOptions::default()
    })
}

/// Poisoned GPUs whose kernels run their subgroup variants (`on`: [`SubgroupUse::Always`]) or
/// none ([`SubgroupUse::Off`]), the second also splitting dispatches over 3 workgroups into a
/// 2-d grid: the devices the subgroup twin tests compare. `None` without an adapter.
pub fn gpus_with_subgroups(on: bool) -> Option<[Device; 2]> {
    static ON: OnceLock<Option<[Device; 2]>> = OnceLock::new();
    static OFF: OnceLock<Option<[Device; 2]>> = OnceLock::new();
    let subgroups = if on {
        SubgroupUse::Always
    } else {
        SubgroupUse::Off
    };
    let open = || {
        let plain = open_gpu_with(GpuOptions {
            poison_outputs: true,
            subgroups,
            ..GpuOptions::default()
        })?;
        let split = open_gpu_with(GpuOptions {
            poison_outputs: true,
            max_workgroups_per_dim: Some(3),
            subgroups,
            ..GpuOptions::default()
        })?;
        Some([plain, split])
    };
    if on {
        ON.get_or_init(open).clone()
    } else {
        OFF.get_or_init(open).clone()
    }
}

/// Whether `device` runs subgroup kernels. Where it cannot, says so loudly, and fails when
/// `WGFIT_REQUIRE_SUBGROUPS=1` (set it on CI where the adapter has them: lavapipe does).
pub fn subgroups_in_use(device: &Device) -> bool {
    let Some(ctx) = device.gpu_context() else {
        return false;
    };
    let features = ctx.features();
    if features.subgroups && features.subgroup_use != SubgroupUse::Off {
        return true;
    }
    if std::env::var("WGFIT_REQUIRE_SUBGROUPS").as_deref() == Ok("1") {
        panic!(
            "WGFIT_REQUIRE_SUBGROUPS=1 but {} runs no subgroup kernels ({features})",
            device.info()
        );
    }
    eprintln!(
        "!!!!! {} HAS NO SUBGROUPS ({features}): THE SUBGROUP KERNELS ARE NOT TESTED !!!!!",
        device.info()
    );
    false
}

/// A GPU device of its own (not shared with other tests: its counters count only its work).
pub fn open_gpu_with(options: GpuOptions) -> Option<Device> {
    match Device::gpu_with(options) {
        Ok(d) => {
            eprintln!("GPU tests run on: {}", d.info());
            Some(d)
        }
        Err(e) => {
            if std::env::var("WGFIT_REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("WGFIT_REQUIRE_GPU=1 but no GPU adapter was found: {e}");
            }
            eprintln!("!!!!! NO GPU ADAPTER ({e}): THE GPU HALF OF THIS TEST IS SKIPPED !!!!!");
            None
        }
    }
}

/// The default wgpu adapter, as an app that opens its own device would find it (the tests
/// that adopt an app's device call it after `gpu()` found one).
pub fn app_adapter() -> wgpu::Adapter {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .expect("an adapter, since a GPU was found")
}

/// A fresh seed per run (printed, so a failure can be replayed with `WGFIT_TEST_SEED`).
pub fn rng(test: &str) -> StdRng {
    let seed = std::env::var("WGFIT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("{test}: WGFIT_TEST_SEED={seed}");
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in [lo, hi).
pub fn uniform(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Largest elementwise relative error `|g - c| / |c|` (0 where both are 0); any NaN or a
/// length mismatch counts as infinite.
pub fn max_rel_err(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    got.iter()
        .zip(want)
        .map(|(&g, &c)| {
            if g.is_nan() || c.is_nan() {
                f32::INFINITY
            } else if g == c {
                0.0
            } else {
                (g - c).abs() / c.abs()
            }
        })
        .fold(0.0, f32::max)
}

/// `‖g - c‖ / ‖c‖` (Frobenius); NaN or a length mismatch counts as infinite.
pub fn norm_rel_err(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() || got.iter().any(|g| g.is_nan()) {
        return f32::INFINITY;
    }
    let diff: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &c)| f64::from(g - c).powi(2))
        .sum();
    let norm: f64 = want.iter().map(|&c| f64::from(c).powi(2)).sum();
    if norm == 0.0 {
        return if diff == 0.0 { 0.0 } else { f32::INFINITY };
    }
    (diff / norm).sqrt() as f32
}

/// Largest elementwise `|g - c| / max(|c|, 1e-2 · max |c|)`: relative error with a floor
/// of 1e-2 of the output's largest magnitude, so elements near 0 are held to the output's
/// scale; any NaN or a length mismatch counts as infinite.
pub fn scaled_rel_err(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    let floor = 1e-2 * want.iter().fold(0.0f32, |m, &c| m.max(c.abs()));
    got.iter()
        .zip(want)
        .map(|(&g, &c)| match () {
            _ if g.is_nan() || c.is_nan() => f32::INFINITY,
            _ if g == c => 0.0,
            _ => (g - c).abs() / c.abs().max(floor),
        })
        .fold(0.0, f32::max)
}

/// How GPU outputs are compared with the CPU twin's.
#[derive(Clone, Copy)]
pub enum Tol {
    /// Every element within this relative error.
    Rel(f32),
    /// Every element within this relative error, below 1e-2 of the output's largest
    /// magnitude relative to that floor instead ([`scaled_rel_err`]).
    RelScaled(f32),
    /// The whole output within this error relative to its norm (matmul).
    Norm(f32),
    /// Both: the whole output within `norm` of its norm and every element within `element`
    /// as [`Tol::RelScaled`] (the LSTM cell).
    NormAndScaled { norm: f32, element: f32 },
    /// [`Tol::NormAndScaled`], or every element within `abs` of the CPU's: for outputs of a
    /// few elements that sum terms which can cancel (an LSTM's dh0 and dc0 at B = T = U = 1
    /// add a product per gate), where the other summation order's rounding is a large error
    /// relative to a sum near 0. Measured on lavapipe: 1.1e-5..8.3e-5 of the norm against
    /// 1e-5, in 1 of 28 seeds of ops_recurrent_dropout and 1 of 27 of ops_initial_state, and
    /// only 6e-10..4e-8 absolute; rounding terms of size 2 or less stays below 1e-6, and a
    /// wrong term errs by far more.
    NormAndScaledOrAbs { norm: f32, element: f32, abs: f32 },
}

/// Largest elementwise `|g - c|`; any NaN or a length mismatch counts as infinite.
pub fn max_abs_err(got: &[f32], want: &[f32]) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    got.iter()
        .zip(want)
        .map(|(&g, &c)| match (g - c).abs() {
            e if e.is_nan() => f32::INFINITY,
            e => e,
        })
        .fold(0.0, f32::max)
}

impl Tol {
    /// The error of `got` against `want` under this tolerance, and its limit.
    pub fn err(self, got: &[f32], want: &[f32]) -> (f32, f32) {
        match self {
            Tol::Rel(limit) => (max_rel_err(got, want), limit),
            Tol::RelScaled(limit) => (scaled_rel_err(got, want), limit),
            Tol::Norm(limit) => (norm_rel_err(got, want), limit),
            Tol::NormAndScaled { norm, element } => match Tol::Norm(norm).err(got, want) {
                (err, limit) if err > limit => (err, limit),
                _ => Tol::RelScaled(element).err(got, want),
            },
            Tol::NormAndScaledOrAbs { norm, element, abs } => {
                let (err, limit) = Tol::NormAndScaled { norm, element }.err(got, want);
                match max_abs_err(got, want) {
                    worst if err > limit && worst <= abs => (worst, abs),
                    _ => (err, limit),
                }
            }
        }
    }
}

pub type Input = (Vec<usize>, Vec<f32>);

/// Runs `op` on the CPU and on each GPU device on the same inputs and compares every output.
pub fn cross_check(
    name: &str,
    inputs: &[Input],
    tol: Tol,
    op: impl Fn(&[Tensor]) -> wgfit::Result<Vec<Tensor>>,
) {
    let run = |device: &Device| -> Vec<Vec<f32>> {
        let tensors: Vec<Tensor> = inputs
            .iter()
            .map(|(shape, values)| Tensor::from_vec(device, shape.clone(), values.clone()).unwrap())
            .collect();
        let outputs = op(&tensors).unwrap_or_else(|e| panic!("{name} on {}: {e}", device.info()));
        outputs
            .iter()
            .map(|t| t.to_vec_blocking().unwrap())
            .collect()
    };
    let want = run(&Device::cpu());
    for device in [gpu(), gpu_split()].into_iter().flatten() {
        let got = run(&device);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                w.iter().all(|v| v.is_finite()),
                "{name}: CPU output {i} is not finite"
            );
            let (err, limit) = tol.err(g, w);
            assert!(
                err <= limit,
                "{name}: output {i} on {} differs from the CPU by {err:e} (limit {limit:e})",
                device.info()
            );
        }
    }
}

pub fn random_input(rng: &mut rand::rngs::StdRng, shape: &[usize]) -> Input {
    (
        shape.to_vec(),
        uniform(rng, shape.iter().product(), -1.0, 1.0),
    )
}

/// Checks every weight gradient of `model` on (`x`, `y`) against central finite differences
/// of the loss (f64 differences of f32 losses, step 1e-2), on whatever device it runs: each
/// within 2e-2 of its own magnitude plus a floor of 1e-2 of the tensor's largest gradient (at
/// most 1e-4), so small gradients are held to their tensor's scale. The callers' models need
/// at most 2.7e-3 of the largest and 5.6e-6 absolute: the f32 loss's rounding over 2h.
pub fn check_finite_differences<'x, 'y>(
    model: &mut wgfit::Model,
    x: impl Into<wgfit::Arrays<'x>>,
    y: impl Into<wgfit::Arrays<'y>>,
    case: &str,
) {
    let (x, y) = (x.into(), y.into());
    let grads = model.gradients(x.clone(), y.clone()).unwrap();
    let named = model.get_weights().unwrap();
    let weights: Vec<ndarray::ArrayD<f32>> = named.iter().map(|(_, w)| w.clone()).collect();
    let h = 1e-2f32;
    for (name, g) in &grads {
        // get_weights lists non-trainable weights too: find this one by name.
        let t = named.iter().position(|(n, _)| n == name).unwrap();
        let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let floor = (1e-2 * scale).min(1e-4);
        for i in 0..g.len() {
            let mut probe = |delta: f32| {
                let mut w = weights.clone();
                w[t].as_slice_mut().unwrap()[i] += delta;
                model.set_weights(&w).unwrap();
                f64::from(model.evaluate(x.clone(), y.clone()).unwrap().loss)
            };
            let fd = ((probe(h) - probe(-h)) / f64::from(2.0 * h)) as f32;
            let an = g.as_slice().unwrap()[i];
            assert!(
                (fd - an).abs() <= 2e-2 * an.abs().max(fd.abs()) + floor,
                "{case}: {name}[{i}] is {an} but finite differences give {fd} (floor {floor:e})"
            );
        }
    }
    model.set_weights(&weights).unwrap();
}

/// A `[B, T]` mask for the recurrent cells' tests: each row keeps a random run of steps,
/// padded before, after or both; row 0 keeps none.
pub fn random_mask(rng: &mut StdRng, b: usize, t: usize) -> Vec<f32> {
    let mut m = vec![0.0; b * t];
    for row in 1..b {
        let start = rng.random_range(0..t);
        let end = rng.random_range(start + 1..=t);
        m[row * t + start..row * t + end].fill(1.0);
    }
    m
}
