//! Kernels whose loops run long: llvmpipe and lavapipe (Mesa's software adapters, GL and
//! Vulkan) end an invocation's loops after 65 535 trips in all, so these ops split such loops
//! over several dispatches there (or, past what that can do, refuse with `Error::Device`).
//! Each op runs on the CPU reference and on the GPU (the suite's context, and one with
//! subgroups off: the path of GL adapters) on sizes just past 65 535, outputs poisoned.
//! Where a test checks a sum its terms are positive multiples of 1/8 (or 0 and 1), so every
//! partial sum is exact in f32: any order of adding gives the CPU's sum, and one dropped term
//! shows.

mod common;

use common::{gpu, gpus_with_subgroups, rng, uniform};
use rand::Rng;
use wgfit::ops::embedding::embedding_backward;
use wgfit::ops::loss::{
    accuracy_binary, accuracy_categorical, bce_forward, cce_backward, cce_forward, mse_forward,
    sigmoid_xent_forward,
};
use wgfit::ops::lstm_cell::{LstmKernel, lstm_backward_with, lstm_forward_with};
use wgfit::ops::masked_reduce::{masked_mean, masked_sum};
use wgfit::ops::masking::{masking_backward, masking_forward};
use wgfit::ops::matmul::{MatmulKernel, Transpose, matmul_bias_act, matmul_with};
use wgfit::ops::reduce::{mean, sum};
use wgfit::ops::softmax::{softmax, softmax_xent_forward};
use wgfit::{Activation, Device, DeviceInfo, Error, GpuOptions, Tensor};

const LIMIT: f32 = 1e-5;

/// The 1.1M-class softmax against the CPU twin, per element as [`scaled_err`]: the twin adds
/// the row's million terms in order in f32, which puts every probability of the row off by
/// the same factor, 1.7e-3 measured (the GPU's tree sum is within 6.3e-7 of the exact
/// softmax, which the test holds it to at [`LIMIT`]).
const SOFTMAX_TWIN_LIMIT: f32 = 5e-3;

/// Largest `|g - w| / max(|w|, 1e-2 · max |w|)`; NaN anywhere counts as infinite.
fn scaled_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let floor = 1e-2 * want.iter().fold(0.0f32, |m, &w| m.max(w.abs()));
    got.iter()
        .zip(want)
        .map(|(&g, &w)| match (g - w).abs() / w.abs().max(floor) {
            e if e.is_nan() => f32::INFINITY,
            e => e,
        })
        .fold(0.0, f32::max)
}

/// The suite's GPU and one with subgroups off, both poisoning outputs; none without an adapter.
fn gpus() -> Vec<Device> {
    let off = gpus_with_subgroups(false).map(|[plain, _]| plain);
    gpu().into_iter().chain(off).collect()
}

fn software(device: &Device) -> bool {
    matches!(device.info(), DeviceInfo::Gpu { ref device_type, .. } if device_type == "Cpu")
}

type Input = (Vec<usize>, Vec<f32>);

const TRANSPOSES: [Transpose; 4] = [Transpose::None, Transpose::A, Transpose::B, Transpose::Both];

/// `n` values drawn from 1, 1.125, ..., 1.875.
fn eighths(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| rng.random_range(8..16) as f32 / 8.0)
        .collect()
}

/// `n` values drawn from ±1, ±1.125, ..., ±1.875: products are multiples of 1/64, so sums of
/// up to 70 004 of them (at most 246 100) stay exact in f32.
fn signed_eighths(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    eighths(rng, n)
        .into_iter()
        .map(|v| if rng.random_bool(0.5) { v } else { -v })
        .collect()
}

/// a and b of `[batch.., M, K]`-style shapes for `transpose` (b shared when `shared_b`).
fn matmul_inputs(
    rng: &mut rand::rngs::StdRng,
    batch: &[usize],
    (m, n, k): (usize, usize, usize),
    transpose: Transpose,
    shared_b: bool,
) -> [Input; 2] {
    let (trans_a, trans_b) = match transpose {
        Transpose::None => (false, false),
        Transpose::A => (true, false),
        Transpose::B => (false, true),
        Transpose::Both => (true, true),
    };
    let count: usize = batch.iter().product();
    let mut a_shape = batch.to_vec();
    a_shape.extend(if trans_a { [k, m] } else { [m, k] });
    let mut b_shape = if shared_b { vec![] } else { batch.to_vec() };
    b_shape.extend(if trans_b { [n, k] } else { [k, n] });
    let b_count = if shared_b { 1 } else { count };
    [
        (a_shape, signed_eighths(rng, count * m * k)),
        (b_shape, eighths(rng, b_count * k * n)),
    ]
}

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

/// What a difference from the CPU is measured against.
#[derive(Clone, Copy)]
enum Scale {
    /// Each element's own magnitude.
    Elementwise,
    /// The op run on `|inputs|`: each sum's sum of absolute terms.
    SumOfAbs,
}

/// Runs `op` on the CPU and on every GPU and holds each GPU output to the CPU's within
/// [`LIMIT`] under `scale` (NaN, from a poisoned element left unwritten, fails).
fn check(
    name: &str,
    inputs: &[Input],
    scale: Scale,
    op: impl Fn(&[Tensor]) -> wgfit::Result<Vec<Tensor>>,
) {
    let cpu = Device::cpu();
    let want = run(&cpu, inputs, &op);
    for (i, w) in want.iter().enumerate() {
        assert!(
            w.iter().all(|v| v.is_finite()),
            "{name}: CPU output {i} is not finite"
        );
    }
    let scales = match scale {
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
    };
    for device in gpus() {
        let got = run(&device, inputs, &op);
        for (i, ((g, w), s)) in got.iter().zip(&want).zip(&scales).enumerate() {
            assert_eq!(g.len(), w.len());
            let err = g
                .iter()
                .zip(w)
                .zip(s)
                .map(|((&g, &w), &s)| match () {
                    _ if g == w => 0.0,
                    // NaN anywhere (an unwritten poisoned element, a NaN scale) fails:
                    // `f32::max` would drop it.
                    _ => match (g - w).abs() / s {
                        e if e.is_nan() => f32::INFINITY,
                        e => e,
                    },
                })
                .fold(0.0, f32::max);
            assert!(
                err <= LIMIT,
                "{name}: output {i} on {} ({}) differs from the CPU by {err:e}",
                device.info(),
                device.gpu_context().unwrap().features()
            );
        }
    }
}

#[test]
fn sums_over_axes_past_65535_terms_match_the_cpu() {
    let mut rng = rng("long_reduce");
    let cases: &[(&[usize], usize)] = &[
        (&[65_537], 0),
        (&[70_001], 0),
        (&[70_001, 3], 0),
        (&[3, 70_001], 1),
        (&[2, 65_537, 2], 1),
    ];
    for &(shape, axis) in cases {
        let x = (shape.to_vec(), eighths(&mut rng, shape.iter().product()));
        let name = format!("reduce {shape:?} axis {axis}");
        check(&name, &[x], Scale::SumOfAbs, |t| {
            Ok(vec![sum(&t[0], axis)?, mean(&t[0], axis)?])
        });
    }
}

#[test]
fn a_sum_longer_than_a_workgroup_per_output_can_loop_matches_the_cpu() {
    // 256 invocations per output, each past 65 535 trips: the subgroup kernel's reach, which
    // the default context takes for one long sum on lavapipe. Zeros and ones keep the sum
    // (about 7 million) exact in f32.
    let n = 256 * 70_001;
    let mut rng = rng("longest_reduce");
    let x: Vec<f32> = (0..n)
        .map(|_| f32::from(u8::from(rng.random_bool(0.4))))
        .collect();
    let x = (vec![n], x);
    check(&format!("reduce [{n}]"), &[x], Scale::SumOfAbs, |t| {
        Ok(vec![sum(&t[0], 0)?])
    });
}

#[test]
fn masked_sums_and_means_over_more_than_65535_steps_match_the_cpu() {
    let mut rng = rng("long_masked_reduce");
    for (b, t, f) in [(1, 70_001, 2), (2, 65_537, 1)] {
        let mut mask: Vec<f32> = (0..b * t)
            .map(|_| f32::from(u8::from(rng.random_bool(0.7))))
            .collect();
        // The last steps are kept, so a kernel that stops early drops kept terms.
        for row in 0..b {
            mask[row * t + t - 16..(row + 1) * t].fill(1.0);
        }
        let x = (vec![b, t, f], eighths(&mut rng, b * t * f));
        let mask = (vec![b, t], mask);
        check(
            &format!("masked_reduce [{b}, {t}, {f}]"),
            &[x, mask],
            Scale::SumOfAbs,
            |x| Ok(vec![masked_sum(&x[0], &x[1])?, masked_mean(&x[0], &x[1])?]),
        );
    }
}

#[test]
fn loss_rows_of_more_than_65535_columns_match_the_cpu() {
    let mut rng = rng("long_loss_rows");
    let (r, c) = (2, 70_001);
    let probs: Vec<f32> = uniform(&mut rng, r * c, 0.01, 0.99);
    let mut binary: Vec<f32> = (0..r * c)
        .map(|_| f32::from(u8::from(rng.random_bool(0.5))))
        .collect();
    // Row 0's largest prediction and its one-hot class are the last column: an argmax that
    // stops early finds neither.
    let mut one_hot = vec![0.0; r * c];
    one_hot[c - 1] = 1.0;
    one_hot[c + rng.random_range(0..c)] = 1.0;
    let mut peaked = probs.clone();
    peaked[c - 1] = 1.0;
    binary[c - 1] = 1.0;
    let (p, y, hot) = (
        (vec![r, c], probs),
        (vec![r, c], binary),
        (vec![r, c], one_hot),
    );
    let z = (vec![r, c], uniform(&mut rng, r * c, -8.0, 8.0));
    check(
        "bce, mse, accuracy",
        &[p.clone(), y.clone()],
        Scale::Elementwise,
        |t| {
            Ok(vec![
                bce_forward(&t[0], &t[1])?,
                mse_forward(&t[0], &t[1])?,
                accuracy_binary(&t[0], &t[1])?,
            ])
        },
    );
    check("sigmoid_xent", &[z, y], Scale::Elementwise, |t| {
        let (probs, loss) = sigmoid_xent_forward(&t[0], &t[1])?;
        Ok(vec![probs, loss])
    });
    check("cce", &[p, hot.clone()], Scale::Elementwise, |t| {
        Ok(vec![
            cce_forward(&t[0], &t[1])?,
            cce_backward(&t[0], &t[1], 0.5)?,
        ])
    });
    check(
        "accuracy_categorical",
        &[(vec![r, c], peaked), hot],
        Scale::Elementwise,
        |t| Ok(vec![accuracy_categorical(&t[0], &t[1])?]),
    );
}

#[test]
fn matmuls_over_more_than_65535_k_match_the_cpu() {
    // K past every kernel's loop on lavapipe (one dispatch was wrong past K = 65 535 naive,
    // 58 255 tiled, 43 689 / 37 424 vec4); 70 004 (a multiple of 4) takes the vec4 kernel's
    // vec4 loads, and 64 x 64 its 64x64 tile, which loops most per K.
    let mut rng = rng("long_matmul");
    let kernels = [MatmulKernel::Vec4, MatmulKernel::Tiled, MatmulKernel::Naive];
    for kernel in kernels {
        for transpose in TRANSPOSES {
            let vec4 = (kernel == MatmulKernel::Vec4).then_some((64, 64, 70_004));
            for (m, n, k) in [(3, 5, 70_001), (17, 9, 70_001)].into_iter().chain(vec4) {
                let inputs = matmul_inputs(&mut rng, &[], (m, n, k), transpose, false);
                let name = format!("{kernel:?} {transpose:?} {m} x {n} x {k}");
                check(&name, &inputs, Scale::SumOfAbs, |t| {
                    Ok(vec![matmul_with(&t[0], &t[1], transpose, kernel)?])
                });
            }
        }
        // Batched, and one b shared by the batch.
        for (transpose, shared_b) in [(Transpose::None, false), (Transpose::B, true)] {
            let inputs = matmul_inputs(&mut rng, &[2], (3, 5, 70_001), transpose, shared_b);
            let name = format!("{kernel:?} {transpose:?} [2, 3, 5] x 70 001, shared b {shared_b}");
            check(&name, &inputs, Scale::SumOfAbs, |t| {
                Ok(vec![matmul_with(&t[0], &t[1], transpose, kernel)?])
            });
        }
    }
}

#[test]
fn matmul_bias_act_over_more_than_65535_k_matches_the_cpu() {
    // The bias and relu apply once, to the whole sum: a kernel that applied them to a part
    // (or stored a part's relu) would differ where the parts' signs do.
    let mut rng = rng("long_matmul_bias_act");
    for transpose in TRANSPOSES {
        for (batch, (m, n, k)) in [
            (&[][..], (17, 9, 70_001)),
            (&[2][..], (3, 5, 70_001)),
            (&[][..], (64, 64, 70_004)),
        ] {
            let [a, b] = matmul_inputs(&mut rng, batch, (m, n, k), transpose, false);
            let bias = (vec![n], signed_eighths(&mut rng, n));
            let name = format!("matmul_bias_act {transpose:?} {batch:?} {m} x {n} x {k}");
            check(&name, &[a, b, bias], Scale::SumOfAbs, |t| {
                Ok(vec![
                    matmul_bias_act(&t[0], &t[1], transpose, Some(&t[2]), Activation::Relu)?,
                    matmul_bias_act(&t[0], &t[1], transpose, None, Activation::Linear)?,
                ])
            });
        }
    }
}

#[test]
fn softmax_rows_past_a_software_adapters_loop_budget_are_refused_not_wrong() {
    let mut rng = rng("long_softmax");
    // 1 100 000 classes: 17 188 strided trips per lane for each of the fused crossentropy's
    // four passes over the row, past 65 535 in all.
    let c = 1_100_000;
    let z = uniform(&mut rng, c, -4.0, 4.0);
    let mut y = vec![0.0; c];
    y[c - 1] = 1.0;
    // The exact softmax (in f64) and the CPU twin's.
    let exact: Vec<f32> = {
        let max = z.iter().fold(f64::MIN, |m, &v| m.max(f64::from(v)));
        let e: Vec<f64> = z.iter().map(|&v| (f64::from(v) - max).exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|&v| (v / total) as f32).collect()
    };
    let cpu = Tensor::from_vec(&Device::cpu(), [1, c], z.clone()).unwrap();
    let twin = softmax(&cpu).unwrap().to_vec_blocking().unwrap();
    for device in gpus() {
        let zt = Tensor::from_vec(&device, [1, c], z.clone()).unwrap();
        let yt = Tensor::from_vec(&device, [1, c], y.clone()).unwrap();
        // The softmax alone makes three passes, within the budget: every probability written
        // (none left NaN), each the exact one's within 1e-5 and the CPU twin's within
        // SOFTMAX_TWIN_LIMIT, and the row summing to 1.
        let probs = softmax(&zt).unwrap().to_vec_blocking().unwrap();
        for (want, limit, what) in [
            (&exact, LIMIT, "the exact softmax"),
            (&twin, SOFTMAX_TWIN_LIMIT, "the CPU twin"),
        ] {
            let err = scaled_err(&probs, want);
            assert!(
                err <= limit,
                "softmax of {c} classes on {} differs from {what} by {err:e} (limit {limit:e})",
                device.info()
            );
        }
        let total: f64 = probs.iter().map(|&p| f64::from(p)).sum();
        assert!((total - 1.0).abs() < 1e-4, "{total} on {}", device.info());
        let result = softmax_xent_forward(&zt, &yt);
        if software(&device) {
            let err = result.expect_err("a software adapter cannot loop over this row");
            assert!(
                matches!(err, Error::Device { ref message, .. } if message.contains("65 535")),
                "{err}"
            );
        } else {
            result.unwrap();
        }
    }
}

#[test]
fn masking_steps_of_more_than_65535_features_match_the_cpu() {
    let mut rng = rng("long_masking");
    let (b, t, f) = (1, 3, 70_001);
    // Step 0 differs from the mask value only in its last feature; step 1 not at all.
    let mut x = vec![0.0; b * t * f];
    x[f - 1] = 1.0;
    x[2 * f..].copy_from_slice(&uniform(&mut rng, f, 1.0, 2.0));
    let dy = (vec![b, t, f], uniform(&mut rng, b * t * f, 1.0, 2.0));
    check(
        "masking",
        &[(vec![b, t, f], x), dy],
        Scale::Elementwise,
        |x| {
            let (out, mask) = masking_forward(&x[0], 0.0)?;
            let dx = masking_backward(&x[1], &mask)?;
            Ok(vec![out, mask, dx])
        },
    );
}

#[test]
fn a_token_used_more_than_65535_times_gets_its_whole_gradient() {
    let mut rng = rng("long_embedding");
    let (positions, vocab, dim) = (70_001, 3, 2);
    // Token 1 everywhere but at a few positions (as a padding token fills a batch).
    let ids: Vec<u32> = (0..positions)
        .map(|p| if p % 9_999 == 0 { 2 } else { 1 })
        .collect();
    let dy = (vec![positions, dim], eighths(&mut rng, positions * dim));
    check("embedding_backward", &[dy], Scale::SumOfAbs, |t| {
        Ok(vec![embedding_backward(&ids, vocab, &t[0])?])
    });
}

#[test]
fn the_persistent_lstm_over_more_steps_than_one_dispatch_can_loop_matches_the_cpu() {
    let mut rng = rng("long_lstm");
    // Trips per step counted for the row-blocked kernels (src/ops/lstm_cell/blocked.rs):
    // forward ceil(U / S) + S + 33, 53 at 64 units (S = 4; past 65 535 after about 1 217
    // steps), 99 at 128 (S = 2; after 651); backward 63 and 109 (after 1 023 and 591). At 1
    // unit the budget allows about 1 800 and 1 370 steps, and 5 000 steps also pass the 4 096
    // any one persistent dispatch may run on any adapter.
    for (b, t, u) in [(2, 1_100, 64), (2, 700, 128), (2, 5_000, 1)] {
        let xp = (
            vec![b, t, 4 * u],
            uniform(&mut rng, b * t * 4 * u, -2.0, 2.0),
        );
        let scale = 1.0 / (u as f32).sqrt();
        let rk = (vec![u, 4 * u], uniform(&mut rng, 4 * u * u, -scale, scale));
        let mut mask: Vec<f32> = (0..b * t)
            .map(|_| f32::from(u8::from(rng.random_bool(0.8))))
            .collect();
        mask[t - 1] = 0.0;
        let mask = (vec![b, t], mask);
        let dh = (vec![b, u], uniform(&mut rng, b * u, -1.0, 1.0));
        let dy = (vec![b, t, u], uniform(&mut rng, b * t * u, -0.1, 0.1));
        let inputs = [xp, rk, mask, dh, dy];
        // h and c stay within [-1, 1] and a few units: each element against its own magnitude
        // would be too strict for a recurrence of 1 100 steps; the whole output's norm is the
        // measure tests/ops_lstm_cell.rs uses.
        let cpu = run(&Device::cpu(), &inputs, &forward_backward);
        // A context of this test's own, so that its dispatch count is this test's alone.
        let own = gpu().map(|_| {
            let poisoned = GpuOptions {
                poison_outputs: true,
                ..GpuOptions::default()
            };
            Device::gpu_with(poisoned).expect("a second context on the suite's adapter")
        });
        if let Some(device) = own {
            let ctx = device.gpu_context().expect("a GPU device");
            let before = ctx.counters().dispatches;
            let got = run(&device, &inputs, &forward_backward);
            let dispatches = ctx.counters().dispatches - before;
            // Without the split this would be 6: a forward, the copy of dh_last, two
            // transposes of rk and two backward.
            if software(&device) {
                assert!(
                    dispatches > 6,
                    "U={u}: {dispatches} dispatches on {}",
                    device.info()
                );
            }
            for (i, (g, w)) in got.iter().zip(&cpu).enumerate() {
                let err = common::norm_rel_err(g, w);
                assert!(
                    err <= LIMIT,
                    "U={u} output {i} on {}: {err:e}",
                    device.info()
                );
            }
        }
    }
}

fn forward_backward(x: &[Tensor]) -> wgfit::Result<Vec<Tensor>> {
    let persistent = LstmKernel::Persistent;
    let s = lstm_forward_with(&x[0], &x[1], Some(&x[2]), persistent)?;
    let from_last = lstm_backward_with(&s, &x[1], Some(&x[2]), Some(&x[3]), None, persistent)?;
    let from_seq = lstm_backward_with(&s, &x[1], Some(&x[2]), None, Some(&x[4]), persistent)?;
    Ok(vec![s.hseq, s.cseq, s.gates, s.hprev, from_last, from_seq])
}
