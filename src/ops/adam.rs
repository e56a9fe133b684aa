//! Fused Adam update, in place on the weights and both moments (`shaders/adam.wgsl`).
//!
//! w, m, v, g: `[n]` (any shape, the same for all four).

use super::{buf, f32_device, groups, host, same_shapes, with_host_mut};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "adam",
    source: include_str!("../../shaders/adam.wgsl"),
    params: Params::LAYOUT,
    entries: &[("adam_update", 4)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        alpha: f32,
        one_minus_beta_1: f32,
        one_minus_beta_2: f32,
        epsilon: f32,
    }
}

/// One Adam step's constants, each computed in the precision Keras 3 computes it in:
/// `1 - beta_1` and `1 - beta_2` from the Python floats (f64), rounded once to f32; the bias
/// correction `alpha = lr sqrt(1 - b2^t) / (1 - b1^t)` in f32 from `beta as f32` and `t as f32`
/// (Keras's `ops.power(ops.cast(beta, float32), local_step)`), in Keras's operation order.
///
/// ```
/// use wgfit::ops::adam::AdamStep;
/// let s = AdamStep::new(0.001, 0.9, 0.999, 1e-7, 1);
/// let want = 0.001 * 0.001f32.sqrt() / 0.1; // lr sqrt(1 - 0.999) / (1 - 0.9)
/// assert!((s.alpha - want).abs() < 1e-8);
/// // Later steps approach lr: the bias correction fades.
/// assert!((AdamStep::new(0.001, 0.9, 0.999, 1e-7, 100_000).alpha - 0.001).abs() < 1e-7);
/// // 1 - 0.999 in f64, then f32: exactly Keras's constant, not f32's 1 - 0.999f32.
/// assert_eq!(s.one_minus_beta_2, 0.001f32);
/// assert_eq!((s.one_minus_beta_1, s.epsilon), (0.1, 1e-7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// The bias-corrected step size for this step.
    pub alpha: f32,
    /// `1 - beta_1` (Keras's default beta_1 0.9), computed in f64 and rounded once.
    pub one_minus_beta_1: f32,
    /// `1 - beta_2` (Keras's default beta_2 0.999), computed in f64 and rounded once.
    pub one_minus_beta_2: f32,
    /// Added to `sqrt(v)` (Keras's `epsilon`, default 1e-7).
    pub epsilon: f32,
}

impl AdamStep {
    /// The constants for step `t` (1 for the first update).
    pub fn new(learning_rate: f32, beta_1: f64, beta_2: f64, epsilon: f32, t: u64) -> AdamStep {
        // Keras: local_step = cast(iterations + 1, float32); exact up to 2^24 steps, as there.
        let t = t as f32;
        let (b1_power, b2_power) = ((beta_1 as f32).powf(t), (beta_2 as f32).powf(t));
        AdamStep {
            alpha: learning_rate * (1.0 - b2_power).sqrt() / (1.0 - b1_power),
            one_minus_beta_1: (1.0 - beta_1) as f32,
            one_minus_beta_2: (1.0 - beta_2) as f32,
            epsilon,
        }
    }
}

/// `m += (g - m)(1 - b1); v += (g² - v)(1 - b2); w -= (m alpha) / (sqrt(v) + eps)`, in place.
///
/// w (weights), m, v (moments, zeros at first) and g (gradient) share one shape; w, m and v
/// are updated in place.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when m, v or g is not w's shape;
/// [`Error::Data`](crate::Error::Data) when two of the tensors share storage, or for
/// tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::adam::{AdamStep, adam_update};
/// let device = Device::cpu();
/// let w = Tensor::from_vec(&device, [1], vec![1.0])?;
/// let (m, v) = (Tensor::zeros(&device, [1])?, Tensor::zeros(&device, [1])?);
/// let g = Tensor::from_vec(&device, [1], vec![0.5])?;
/// adam_update(&w, &m, &v, &g, AdamStep::new(0.001, 0.9, 0.999, 1e-7, 1))?;
/// // Adam's first step moves each weight by about lr against its gradient's sign.
/// assert!((w.to_vec_blocking()?[0] - 0.999).abs() < 1e-5);
/// assert!((m.to_vec_blocking()?[0] - 0.05).abs() < 1e-7);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn adam_update(w: &Tensor, m: &Tensor, v: &Tensor, g: &Tensor, step: AdamStep) -> Result<()> {
    let device = f32_device("adam", &[w, m, v, g])?;
    same_shapes("adam", w, &[("m", m), ("v", v), ("g", g)])?;
    super::distinct("adam", &[w, m, v, g])?;
    match &device {
        Device::Cpu => {
            let grad = host(g).f32().to_vec();
            with_host_mut(&[w, m, v], |t| adam_cpu(t, &grad, step))
        }
        Device::Gpu(ctx) => {
            let params = Params {
                n: w.numel() as u32,
                alpha: step.alpha,
                one_minus_beta_1: step.one_minus_beta_1,
                one_minus_beta_2: step.one_minus_beta_2,
                epsilon: step.epsilon,
            };
            ctx.dispatch(
                &KERNEL,
                "adam_update",
                &[buf(w), buf(m), buf(v), buf(g)],
                bytemuck::bytes_of(&params),
                groups(w.numel()),
            )
        }
    }
}

/// CPU twin, in the kernel's (and Keras's) operation order.
fn adam_cpu(t: &mut [&mut Vec<f32>], g: &[f32], s: AdamStep) {
    let [w, m, v] = t else {
        unreachable!("three slots")
    };
    // zipped slices of one length: no bounds checks, so the loop vectorises (sqrt and divide
    // included); the same operations in the same order as element by element
    let n = w.len();
    let params = w.iter_mut().zip(&mut m[..n]).zip(&mut v[..n]).zip(&g[..n]);
    for (((w, m), v), &g) in params {
        *m += (g - *m) * s.one_minus_beta_1;
        *v += (g * g - *v) * s.one_minus_beta_2;
        *w -= (*m * s.alpha) / (v.sqrt() + s.epsilon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minus_beta_is_computed_in_f64_and_rounded_once_as_keras_does() {
        let s = AdamStep::new(0.001, 0.9, 0.999, 1e-7, 1);
        // Python's `1 - 0.999` is 0.0010000000000000009, which float32 rounds to 0.001.
        assert_eq!(s.one_minus_beta_2, 0.001f32);
        assert_eq!(s.one_minus_beta_1, 0.1f32);
        // f32 arithmetic on f32 betas (the old way) gives other constants: 1.3e-5 relative.
        assert_ne!(1.0 - 0.999f32, s.one_minus_beta_2);
        assert_ne!(1.0 - 0.9f32, s.one_minus_beta_1);
    }

    #[test]
    fn bias_correction_is_computed_in_f32_in_keras_order() {
        let (lr, b1, b2) = (0.001f32, 0.9f32, 0.999f32);
        let mut differs_from_f64 = 0;
        for t in 1..=200u64 {
            // keras/src/optimizers/adam.py: every operand float32, left to right.
            let tf = t as f32;
            let want = lr * (1.0 - b2.powf(tf)).sqrt() / (1.0 - b1.powf(tf));
            let got = AdamStep::new(lr, 0.9, 0.999, 1e-7, t).alpha;
            assert_eq!(got.to_bits(), want.to_bits(), "step {t}");
            let f64_alpha = f64::from(lr) * (1.0 - f64::from(b2).powf(t as f64)).sqrt()
                / (1.0 - f64::from(b1).powf(t as f64));
            differs_from_f64 += usize::from(f64_alpha as f32 != got);
        }
        // The f64 formula (the old one) rounds differently on some steps, so this test tells
        // the two apart.
        assert!(differs_from_f64 > 0);
    }

    #[test]
    fn cpu_update_uses_the_keras_constants() {
        let device = Device::cpu();
        let w = Tensor::from_vec(&device, [2], vec![1.0, -0.5]).unwrap();
        let (m, v) = (
            Tensor::zeros(&device, [2]).unwrap(),
            Tensor::zeros(&device, [2]).unwrap(),
        );
        let g = Tensor::from_vec(&device, [2], vec![0.5, 3.0]).unwrap();
        let (mut we, mut me, mut ve) = ([1.0f32, -0.5], [0.0f32; 2], [0.0f32; 2]);
        for t in 1..=3 {
            let s = AdamStep::new(0.001, 0.9, 0.999, 1e-7, t);
            adam_update(&w, &m, &v, &g, s).unwrap();
            for (i, g) in [0.5f32, 3.0].into_iter().enumerate() {
                me[i] += (g - me[i]) * 0.1;
                ve[i] += (g * g - ve[i]) * 0.001;
                we[i] -= (me[i] * s.alpha) / (ve[i].sqrt() + 1e-7);
            }
        }
        assert_eq!(m.to_vec_blocking().unwrap(), me);
        assert_eq!(v.to_vec_blocking().unwrap(), ve);
        assert_eq!(w.to_vec_blocking().unwrap(), we);
    }
}
