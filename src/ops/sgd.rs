//! Fused SGD update with momentum and Nesterov, in place (`shaders/sgd.wgsl`).
//!
//! w, m (velocity; untouched when momentum is 0), g: `[n]`.

use super::{buf, f32_device, groups, host, same_shapes};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "sgd",
    source: include_str!("../../shaders/sgd.wgsl"),
    params: Params::LAYOUT,
    entries: &[("sgd_update", 3)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        lr: f32,
        momentum: f32,
        nesterov: u32,
    }
}

/// One SGD step: `m = m momentum - g lr; w += m` (Nesterov: `w += m momentum - g lr`);
/// with momentum 0, `w -= g lr`. In place on w and m (Keras's `SGD`).
///
/// w (weights), m (velocity, zeros at first) and g (gradient) share one shape.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when m or g is not w's shape;
/// [`Error::Data`](crate::Error::Data) when two of the tensors share storage, or for
/// tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::sgd::sgd_update;
/// let device = Device::cpu();
/// let w = Tensor::from_vec(&device, [2], vec![1.0, 2.0])?;
/// let m = Tensor::zeros(&device, [2])?;
/// let g = Tensor::from_vec(&device, [2], vec![1.0, -1.0])?;
/// sgd_update(&w, &m, &g, 0.5, 0.9, false)?;
/// assert_eq!(m.to_vec_blocking()?, vec![-0.5, 0.5]);
/// assert_eq!(w.to_vec_blocking()?, vec![0.5, 2.5]);
/// sgd_update(&w, &m, &g, 0.5, 0.9, false)?; // m = 0.9 m - 0.5 g = [-0.95, 0.95]
/// let w2 = w.to_vec_blocking()?;
/// assert!((w2[0] + 0.45).abs() < 1e-6 && (w2[1] - 3.45).abs() < 1e-6);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn sgd_update(
    w: &Tensor,
    m: &Tensor,
    g: &Tensor,
    lr: f32,
    momentum: f32,
    nesterov: bool,
) -> Result<()> {
    let device = f32_device("sgd", &[w, m, g])?;
    same_shapes("sgd", w, &[("m", m), ("g", g)])?;
    super::distinct("sgd", &[w, m, g])?;
    match &device {
        Device::Cpu => {
            let grad = host(g).f32().to_vec();
            super::with_host_mut(&[w, m], |s| sgd_cpu(s, &grad, lr, momentum, nesterov))
        }
        Device::Gpu(ctx) => {
            let params = Params {
                n: w.numel() as u32,
                lr,
                momentum,
                nesterov: nesterov as u32,
            };
            ctx.dispatch(
                &KERNEL,
                "sgd_update",
                &[buf(w), buf(m), buf(g)],
                bytemuck::bytes_of(&params),
                groups(w.numel()),
            )
        }
    }
}

fn sgd_cpu(s: &mut [&mut Vec<f32>], g: &[f32], lr: f32, momentum: f32, nesterov: bool) {
    let [w, m] = s else { unreachable!("two slots") };
    for i in 0..w.len() {
        if momentum == 0.0 {
            w[i] -= g[i] * lr;
            continue;
        }
        m[i] = m[i] * momentum - g[i] * lr;
        w[i] += if nesterov {
            m[i] * momentum - g[i] * lr
        } else {
            m[i]
        };
    }
}
