//! Fused RMSprop update, in place (`shaders/rmsprop.wgsl`).
//!
//! w, velocity, mom (untouched when momentum is 0), g: `[n]`.

use super::{buf, f32_device, groups, host, same_shapes};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;

const KERNEL: Kernel = Kernel {
    name: "rmsprop",
    source: include_str!("../../shaders/rmsprop.wgsl"),
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    lr: f32,
    rho: f32,
    momentum: f32,
    epsilon: f32,
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
    /// Decay of the running mean of squared gradients.
    pub rho: f32,
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
            super::with_host_mut(&[w, velocity, mom], |t| rmsprop_cpu(t, &grad, s))
        }
        Device::Gpu(ctx) => {
            let params = Params {
                n: w.numel() as u32,
                lr: s.lr,
                rho: s.rho,
                momentum: s.momentum,
                epsilon: s.epsilon,
            };
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

fn rmsprop_cpu(t: &mut [&mut Vec<f32>], g: &[f32], s: RmsPropStep) {
    let [w, vel, mom] = t else {
        unreachable!("three slots")
    };
    for i in 0..w.len() {
        vel[i] = s.rho * vel[i] + (1.0 - s.rho) * (g[i] * g[i]);
        let inc = s.lr * g[i] / (vel[i] + s.epsilon).sqrt();
        if s.momentum > 0.0 {
            mom[i] = s.momentum * mom[i] + inc;
            w[i] -= mom[i];
        } else {
            w[i] -= inc;
        }
    }
}
