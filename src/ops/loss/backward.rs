//! The loss gradients (`shaders/loss.wgsl`'s gradient entry points and their CPU twins):
//! `[R, C]` with `scale` folded in.

use super::{EPSILON, KERNEL, Params, check, dispatch_rows};
use crate::device::Device;
use crate::error::Result;
use crate::ops::{buf, gpu_output, gpu_tensor, groups, host};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Gradient of `scale * sum(cce)` w.r.t. the probabilities, through the normalisation (0
/// through clipped entries). pred, target: `[..., C]` -> `[..., C]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::cce_backward;
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [1, 2], vec![0.25, 0.75])?;
/// let target = Tensor::from_vec(&device, [1, 2], vec![0.0, 1.0])?;
/// // d/dp of -log(p1 / (p0 + p1)): [1 / (p0 + p1), 1 / (p0 + p1) - 1 / p1]
/// let g = cce_backward(&pred, &target, 1.0)?.to_vec_blocking()?;
/// assert!((g[0] - 1.0).abs() < 1e-6 && (g[1] + 1.0 / 3.0).abs() < 1e-6);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn cce_backward(pred: &Tensor, target: &Tensor, scale: f32) -> Result<Tensor> {
    let (device, r, c) = check("cce_backward", pred, target)?;
    match &device {
        Device::Cpu => {
            let (ps, ys) = (host(pred), host(target));
            let mut out = Vec::with_capacity(r * c);
            for (p, y) in ps.f32().chunks(c).zip(ys.f32().chunks(c)) {
                let total: f32 = p.iter().sum();
                let a: Vec<f32> = p
                    .iter()
                    .zip(y)
                    .map(|(&q, &t)| {
                        let q = q / total;
                        if (EPSILON..=1.0 - EPSILON).contains(&q) {
                            -t / q
                        } else {
                            0.0
                        }
                    })
                    .collect();
                // sum_c a_c q_c, where a_c q_c = -y_c for every entry that was not clipped.
                let dot: f32 = -p
                    .iter()
                    .zip(y)
                    .filter(|&(&q, _)| (EPSILON..=1.0 - EPSILON).contains(&(q / total)))
                    .map(|(_, &t)| t)
                    .sum::<f32>();
                out.extend(a.iter().map(|&a| scale * (a - dot) / total));
            }
            Tensor::from_vec(&device, pred.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, pred.shape())?;
            // Each row's sum and dot product, carried between dispatches of a long row.
            let carry = gpu_output(ctx, &Shape(vec![r, 2]))?;
            dispatch_rows(
                ctx,
                "cce_backward",
                &[buf(pred), buf(target), &out, &carry],
                (r, c, 3 * c),
                scale,
            )?;
            Ok(gpu_tensor(&device, pred.shape().clone(), out))
        }
    }
}

fn grad(
    entry: &'static str,
    pred: &Tensor,
    target: &Tensor,
    scale: f32,
    cpu: impl Fn(f32, f32) -> f32,
) -> Result<Tensor> {
    let (device, r, c) = check(entry, pred, target)?;
    match &device {
        Device::Cpu => {
            let out = host(pred)
                .f32()
                .iter()
                .zip(host(target).f32())
                .map(|(&p, &y)| cpu(p, y))
                .collect();
            Tensor::from_vec(&device, pred.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, pred.shape())?;
            let params = Params::new(r, c, scale);
            ctx.dispatch(
                &KERNEL,
                entry,
                &[buf(pred), buf(target), &out],
                bytemuck::bytes_of(&params),
                groups(r * c),
            )?;
            Ok(gpu_tensor(&device, pred.shape().clone(), out))
        }
    }
}

/// Gradient of `scale * sum(bce)` w.r.t. the probabilities; 0 where they were clipped.
/// pred, target: `[..., C]` -> `[..., C]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::bce_backward;
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [3, 1], vec![0.8, 0.2, 0.0])?;
/// let target = Tensor::from_vec(&device, [3, 1], vec![1.0, 0.0, 1.0])?;
/// let g = bce_backward(&pred, &target, 1.0)?.to_vec_blocking()?;
/// assert!((g[0] + 1.25).abs() < 1e-5 && (g[1] - 1.25).abs() < 1e-5); // -1/p, 1/(1-p)
/// assert_eq!(g[2], 0.0); // clipped
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn bce_backward(pred: &Tensor, target: &Tensor, scale: f32) -> Result<Tensor> {
    grad("bce_backward", pred, target, scale, |q, y| {
        if (EPSILON..=1.0 - EPSILON).contains(&q) {
            scale * ((1.0 - y) / (1.0 - q) - y / q)
        } else {
            0.0
        }
    })
}

/// Gradient of `scale * sum((p - y)²)`: `2 scale (p - y)`. pred, target: `[..., C]` ->
/// `[..., C]`; example at [`mse_forward`](super::mse_forward).
pub fn mse_backward(pred: &Tensor, target: &Tensor, scale: f32) -> Result<Tensor> {
    grad("mse_backward", pred, target, scale, |p, y| {
        2.0 * scale * (p - y)
    })
}
