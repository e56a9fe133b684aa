//! Fused RMSprop update, in place (`shaders/rmsprop.wgsl`).
//!
//! w, velocity, mom (untouched when momentum is 0), g: `[n]`.

use super::{buf, f32_device, groups, host, same_shapes};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "rmsprop",
    source: include_str!("../../shaders/rmsprop.wgsl"),
    params: Params::LAYOUT,
    entries: &[("rmsprop_update", 4)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        lr: f32,
        rho: f32,
        one_minus_rho: f32,
        momentum: f32,
        epsilon: f32,
    }
}

impl Params {
    /// Keras's constants: `rho` rounded to f32, and `1 - rho` computed in f64 from the Python
    /// float and rounded once (not `1 - rho as f32`, which differs in the last bits).
    fn new(n: usize, s: RmsPropStep) -> Params {
        Params {
            n: n as u32,
            lr: s.lr,
            rho: s.rho as f32,
            one_minus_rho: (1.0 - s.rho) as f32,
            momentum: s.momentum,
            epsilon: s.epsilon,
        }
    }
}

/// RMSprop's constants (Keras defaults: lr 0.001, rho 0.9, momentum 0, epsilon 1e-7), for
/// [`rmsprop_update`] (which has the example).
///
/// ```
/// use wgfit::ops::rmsprop::RmsPropStep;
/// let keras = RmsPropStep { lr: 0.001, rho: 0.9, momentum: 0.0, epsilon: 1e-7 };
/// assert_eq!(RmsPropStep { momentum: 0.5, ..keras }.rho, 0.9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropStep {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the running mean of squared gradients, in f64 as Keras's Python float: `1 - rho`
    /// is computed in f64 and rounded once to f32, as Keras does.
    pub rho: f64,
    /// Momentum; 0 for none (the `mom` tensor is then left alone).
    pub momentum: f32,
    /// Added to the running mean before its square root.
    pub epsilon: f32,
}

/// `velocity = rho velocity + (1 - rho) g²; inc = lr g / sqrt(velocity + eps)`, then
/// `w -= inc`, or with momentum `mom = momentum mom + inc; w -= mom`.
///
/// w (weights), velocity and mom (zeros at first) and g (gradient) share one shape; w,
/// velocity and mom are updated in place.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when velocity, mom or g is not w's shape;
/// [`Error::Data`](crate::Error::Data) when two of the tensors share storage, or for
/// tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::rmsprop::{RmsPropStep, rmsprop_update};
/// let device = Device::cpu();
/// let w = Tensor::from_vec(&device, [1], vec![1.0])?;
/// let (vel, mom) = (Tensor::zeros(&device, [1])?, Tensor::zeros(&device, [1])?);
/// let g = Tensor::from_vec(&device, [1], vec![1.0])?;
/// let step = RmsPropStep { lr: 0.001, rho: 0.9, momentum: 0.0, epsilon: 1e-7 };
/// rmsprop_update(&w, &vel, &mom, &g, step)?;
/// assert!((vel.to_vec_blocking()?[0] - 0.1).abs() < 1e-7); // (1 - rho) g²
/// let want = 1.0 - 0.001 / (0.1f32 + 1e-7).sqrt();
/// assert!((w.to_vec_blocking()?[0] - want).abs() < 1e-6);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn rmsprop_update(
    w: &Tensor,
    velocity: &Tensor,
    mom: &Tensor,
    g: &Tensor,
    s: RmsPropStep,
) -> Result<()> {
    let device = f32_device("rmsprop", &[w, velocity, mom, g])?;
    same_shapes(
        "rmsprop",
        w,
        &[("velocity", velocity), ("momentum", mom), ("g", g)],
    )?;
    super::distinct("rmsprop", &[w, velocity, mom, g])?;
    match &device {
        Device::Cpu => {
            let grad = host(g).f32().to_vec();
            let params = Params::new(w.numel(), s);
            super::with_host_mut(&[w, velocity, mom], |t| rmsprop_cpu(t, &grad, params))
        }
        Device::Gpu(ctx) => {
            let params = Params::new(w.numel(), s);
            ctx.dispatch(
                &KERNEL,
                "rmsprop_update",
                &[buf(w), buf(velocity), buf(mom), buf(g)],
                bytemuck::bytes_of(&params),
                groups(w.numel()),
            )
        }
    }
}

/// CPU twin, in the kernel's (and Keras's) operation order.
fn rmsprop_cpu(t: &mut [&mut Vec<f32>], g: &[f32], s: Params) {
    let [w, vel, mom] = t else {
        unreachable!("three slots")
    };
    for i in 0..w.len() {
        vel[i] = s.rho * vel[i] + s.one_minus_rho * (g[i] * g[i]);
        let inc = s.lr * g[i] / (vel[i] + s.epsilon).sqrt();
        if s.momentum > 0.0 {
            mom[i] = s.momentum * mom[i] + inc;
            w[i] -= mom[i];
        } else {
            w[i] -= inc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minus_rho_is_computed_in_f64_and_rounded_once_as_keras_does() {
        let step = RmsPropStep {
            lr: 0.001,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
        };
        let p = Params::new(1, step);
        assert_eq!((p.rho, p.one_minus_rho), (0.9f32, 0.1f32));
        assert_ne!(1.0 - 0.9f32, p.one_minus_rho, "f32 arithmetic differs");

        let device = Device::cpu();
        let w = Tensor::from_vec(&device, [1], vec![1.0]).unwrap();
        let (vel, mom) = (
            Tensor::zeros(&device, [1]).unwrap(),
            Tensor::zeros(&device, [1]).unwrap(),
        );
        let g = Tensor::from_vec(&device, [1], vec![3.0]).unwrap();
        rmsprop_update(&w, &vel, &mom, &g, step).unwrap();
        // velocity = 0.9 * 0 + float32(1 - 0.9) * 9
        assert_eq!(vel.to_vec_blocking().unwrap(), [0.1f32 * 9.0]);
        assert_ne!(0.1f32 * 9.0, (1.0 - 0.9f32) * 9.0);
    }
}
