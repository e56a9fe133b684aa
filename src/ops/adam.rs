//! Fused Adam update, in place on the weights and both moments (`shaders/adam.wgsl`).
//!
//! w, m, v, g: `[n]` (any shape, the same for all four).

use super::{buf, f32_device, groups, host, same_shapes, with_host_mut};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;

const KERNEL: Kernel = Kernel {
    name: "adam",
    source: include_str!("../../shaders/adam.wgsl"),
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    alpha: f32,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

/// One Adam step's constants: Keras's `alpha = lr sqrt(1 - b2^t) / (1 - b1^t)` for step `t`
/// (counted from 1), computed in f64 on the host.
///
/// ```
/// use wgfit::ops::adam::AdamStep;
/// let s = AdamStep::new(0.001, 0.9, 0.999, 1e-7, 1);
/// let want = 0.001 * 0.001f32.sqrt() / 0.1; // lr sqrt(1 - 0.999) / (1 - 0.9)
/// assert!((s.alpha - want).abs() < 1e-8);
/// // Later steps approach lr: the bias correction fades.
/// assert!((AdamStep::new(0.001, 0.9, 0.999, 1e-7, 100_000).alpha - 0.001).abs() < 1e-7);
/// assert_eq!((s.beta_1, s.beta_2, s.epsilon), (0.9, 0.999, 1e-7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// The bias-corrected step size for this step.
    pub alpha: f32,
    /// Decay of the first moment (Keras's `beta_1`, default 0.9).
    pub beta_1: f32,
    /// Decay of the second moment (Keras's `beta_2`, default 0.999).
    pub beta_2: f32,
    /// Added to `sqrt(v)` (Keras's `epsilon`, default 1e-7).
    pub epsilon: f32,
}

impl AdamStep {
    /// The constants for step `t` (1 for the first update).
    pub fn new(learning_rate: f32, beta_1: f32, beta_2: f32, epsilon: f32, t: u64) -> AdamStep {
        let t = t as f64;
        let (b1, b2) = (f64::from(beta_1), f64::from(beta_2));
        let alpha = f64::from(learning_rate) * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
        AdamStep {
            alpha: alpha as f32,
            beta_1,
            beta_2,
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
                beta_1: step.beta_1,
                beta_2: step.beta_2,
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
        *m += (g - *m) * (1.0 - s.beta_1);
        *v += (g * g - *v) * (1.0 - s.beta_2);
        *w -= (*m * s.alpha) / (v.sqrt() + s.epsilon);
    }
}
