//! Extreme logits (±1e4, ±100, ±88.5) give finite results equal to Keras's on every device:
//! the kernels clamp `exp`'s argument to ±88 (`shaders/math.wgsl`'s `exp_clamped`), so Metal's
//! fast math, which wgpu leaves on, never meets an inf it could turn into NaN, and the CPU
//! twins clamp alike. The expected values are Keras's formulas in f64.

mod common;

use common::{gpu, gpu_split};
use wgfit::ops::bias_act::bias_act_forward;
use wgfit::ops::loss::sigmoid_xent_forward;
use wgfit::ops::softmax::{softmax, softmax_xent_forward};
use wgfit::{Activation, Device, Tensor};

const EXTREMES: [f32; 12] = [
    1e4, -1e4, 100.0, -100.0, 88.5, -88.5, 88.0, -88.0, 87.0, -87.0, 0.0, 1e-3,
];

fn devices() -> Vec<Device> {
    [Some(Device::cpu()), gpu(), gpu_split()]
        .into_iter()
        .flatten()
        .collect()
}

/// Every element finite and within 1e-6 of `want` relative to max(1, |want|).
fn assert_close(what: &str, device: &Device, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite(),
            "{what} on {}: element {i} is {g}",
            device.info()
        );
        let err = (f64::from(g) - w).abs() / w.abs().max(1.0);
        assert!(
            err <= 1e-6,
            "{what} on {}: element {i} is {g}, Keras gives {w}",
            device.info()
        );
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn sigmoid_and_tanh_of_extreme_inputs_are_finite_and_equal_keras() {
    for device in devices() {
        let x = Tensor::from_vec(&device, [2, 6], EXTREMES.to_vec()).unwrap();
        for (act, f) in [
            (Activation::Sigmoid, sigmoid as fn(f64) -> f64),
            (Activation::Tanh, f64::tanh),
        ] {
            let got = bias_act_forward(&x, None, act).unwrap();
            let want: Vec<f64> = EXTREMES.iter().map(|&v| f(f64::from(v))).collect();
            assert_close(
                &format!("{act:?}"),
                &device,
                &got.to_vec_blocking().unwrap(),
                &want,
            );
        }
    }
}

#[test]
fn softmax_and_crossentropies_of_extreme_logits_are_finite_and_equal_keras() {
    // Rows of three logits each, the one-hot label on the row's last or middle entry.
    let rows: [[f32; 3]; 6] = [
        [1e4, -1e4, 0.0],
        [-1e4, 1e4, -1e4],
        [100.0, -100.0, 88.5],
        [-88.5, 88.5, -100.0],
        [88.0, -88.0, 87.0],
        [0.0, 1e-3, -1e4],
    ];
    let z: Vec<f32> = rows.iter().flatten().copied().collect();
    let y: Vec<f32> = (0..rows.len())
        .flat_map(|r| {
            if r % 2 == 0 {
                [0.0, 0.0, 1.0]
            } else {
                [0.0, 1.0, 0.0]
            }
        })
        .collect();
    let mut probs = Vec::new();
    let mut xent = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let row: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let m = row.iter().copied().fold(f64::MIN, f64::max);
        let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        probs.extend(row.iter().map(|v| (v - lse).exp()));
        let label = if r % 2 == 0 { 2 } else { 1 };
        xent.push(lse - row[label]);
    }
    // binary crossentropy from logits, per element, averaged per row (Keras's formula)
    let bce: Vec<f64> = z
        .chunks(3)
        .zip(y.chunks(3))
        .map(|(zr, yr)| {
            zr.iter()
                .zip(yr)
                .map(|(&z, &y)| {
                    let (z, y) = (f64::from(z), f64::from(y));
                    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
                })
                .sum::<f64>()
                / 3.0
        })
        .collect();
    let sig: Vec<f64> = z.iter().map(|&v| sigmoid(f64::from(v))).collect();
    for device in devices() {
        let zt = Tensor::from_vec(&device, [6, 3], z.clone()).unwrap();
        let yt = Tensor::from_vec(&device, [6, 3], y.clone()).unwrap();
        let p = softmax(&zt).unwrap().to_vec_blocking().unwrap();
        assert_close("softmax", &device, &p, &probs);
        let (p, loss) = softmax_xent_forward(&zt, &yt).unwrap();
        assert_close(
            "softmax_xent probs",
            &device,
            &p.to_vec_blocking().unwrap(),
            &probs,
        );
        assert_close(
            "softmax_xent loss",
            &device,
            &loss.to_vec_blocking().unwrap(),
            &xent,
        );
        let (p, loss) = sigmoid_xent_forward(&zt, &yt).unwrap();
        assert_close(
            "sigmoid_xent probs",
            &device,
            &p.to_vec_blocking().unwrap(),
            &sig,
        );
        assert_close(
            "sigmoid_xent loss",
            &device,
            &loss.to_vec_blocking().unwrap(),
            &bce,
        );
    }
}

/// Every `exp` in every kernel goes through `exp_clamped` (or has an argument bounded by
/// construction: tanh_f32's `exp(2.0 * z)`, z <= 9), so no platform's fast math meets an inf.
#[test]
fn every_kernel_s_exp_has_a_clamped_argument() {
    let allowed = ["exp(clamp(x, -88.0, 88.0))", "exp(2.0 * z)"];
    for kernel in wgfit::ops::kernels() {
        let src = kernel.source;
        for (at, _) in src.match_indices("exp(") {
            let word_start = at == 0
                || !src[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
            let line = &src[src[..at].rfind('\n').map_or(0, |n| n + 1)..at];
            if word_start && !line.contains("//") {
                assert!(
                    allowed.iter().any(|a| src[at..].starts_with(a)),
                    "kernel {}: an unclamped exp at {:?}",
                    kernel.name,
                    &src[at..(at + 40).min(src.len())]
                );
            }
        }
    }
}
