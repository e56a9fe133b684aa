//! Keras's Normalization as kernels (`shaders/normalization.wgsl`).
//!
//! forward:  x: `[..., C]`, mean: `[C]`, variance: `[C]` -> `(x - mean) / denom`, or with
//!           `invert` `mean + x * denom`, where denom = `max(sqrt(variance), 1e-7)` (Keras's
//!           epsilon); C = 1 normalizes every value by one mean and variance.
//! backward: dy: `[..., C]`, variance: `[C]` -> dx = `dy / denom` (`dy * denom` with invert).

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "normalization",
    source: include_str!("../../shaders/normalization.wgsl"),
    params: Params::LAYOUT,
    entries: &[("normalization_forward", 4), ("normalization_backward", 3)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        cols: u32,
        invert: u32,
    }
}

/// Keras's `backend.epsilon()`: the smallest standard deviation divided by.
pub const EPSILON: f32 = 1e-7;

/// `max(sqrt(variance), EPSILON)`, the CPU twin of the kernels' `denom`.
fn denom(variance: f32) -> f32 {
    variance.sqrt().max(EPSILON)
}

/// C, checking that x's last dim is the statistics' length (or that they are one value).
fn columns(op: &str, x: &Tensor, stats: &[&Tensor]) -> Result<usize> {
    let c = stats[0].numel();
    let last = x.dims().last().copied().unwrap_or(1);
    for s in stats {
        if s.numel() != c || (c != 1 && c != last) {
            return Err(shape_error(
                op,
                &[Some(last)],
                s.dims(),
                "the mean and variance must have one value per feature (the input's last \
                 dim), or one value",
            ));
        }
    }
    Ok(c)
}

/// `(x - mean) / max(sqrt(variance), 1e-7)` per column (Keras's `Normalization`), or its
/// inverse `mean + x * max(sqrt(variance), 1e-7)` when `invert`.
///
/// x: `[..., C]`, mean and variance: `C` values (any shape), or one value for all.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when the statistics do not match x's last dim;
/// [`Error::Data`](crate::Error::Data) for tensors on different devices or of u32.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::normalization::normalization_forward;
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [2, 2], vec![1.0, 10.0, 3.0, 30.0])?;
/// let mean = Tensor::from_vec(&device, [2], vec![2.0, 20.0])?;
/// let variance = Tensor::from_vec(&device, [2], vec![1.0, 100.0])?;
/// let y = normalization_forward(&x, &mean, &variance, false)?;
/// assert_eq!(y.to_vec_blocking()?, vec![-1.0, -1.0, 1.0, 1.0]);
/// let back = normalization_forward(&y, &mean, &variance, true)?;
/// assert_eq!(back.to_vec_blocking()?, x.to_vec_blocking()?);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn normalization_forward(
    x: &Tensor,
    mean: &Tensor,
    variance: &Tensor,
    invert: bool,
) -> Result<Tensor> {
    let op = "normalization";
    let device = f32_device(op, &[x, mean, variance])?;
    let c = columns(op, x, &[mean, variance])?;
    match &device {
        Device::Cpu => {
            let (xs, m, v) = (host(x), host(mean), host(variance));
            let (m, v) = (m.f32(), v.f32());
            let out = xs
                .f32()
                .iter()
                .enumerate()
                .map(|(i, &a)| {
                    let k = i % c;
                    if invert {
                        m[k] + a * denom(v[k])
                    } else {
                        (a - m[k]) / denom(v[k])
                    }
                })
                .collect();
            Tensor::from_vec(&device, x.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, x.shape())?;
            let params = Params {
                n: x.numel() as u32,
                cols: c as u32,
                invert: invert.into(),
            };
            ctx.dispatch(
                &KERNEL,
                "normalization_forward",
                &[buf(x), buf(variance), &out, buf(mean)],
                bytemuck::bytes_of(&params),
                groups(x.numel()),
            )?;
            Ok(gpu_tensor(&device, x.shape().clone(), out))
        }
    }
}

/// The gradient of [`normalization_forward`] w.r.t. x: dy: `[..., C]` -> dy / denom (dy *
/// denom when `invert`), denom = `max(sqrt(variance), 1e-7)` per column.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::normalization::normalization_backward;
/// let device = Device::cpu();
/// let dy = Tensor::from_vec(&device, [1, 2], vec![1.0, 1.0])?;
/// let variance = Tensor::from_vec(&device, [2], vec![4.0, 0.0])?;
/// let dx = normalization_backward(&dy, &variance, false)?;
/// assert_eq!(dx.to_vec_blocking()?, vec![0.5, 1e7]); // a zero variance divides by 1e-7
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn normalization_backward(dy: &Tensor, variance: &Tensor, invert: bool) -> Result<Tensor> {
    let op = "normalization_backward";
    let device = f32_device(op, &[dy, variance])?;
    let c = columns(op, dy, &[variance])?;
    match &device {
        Device::Cpu => {
            let (g, v) = (host(dy), host(variance));
            let v = v.f32();
            let out = g
                .f32()
                .iter()
                .enumerate()
                .map(|(i, &a)| {
                    let d = denom(v[i % c]);
                    if invert { a * d } else { a / d }
                })
                .collect();
            Tensor::from_vec(&device, dy.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, dy.shape())?;
            let params = Params {
                n: dy.numel() as u32,
                cols: c as u32,
                invert: invert.into(),
            };
            ctx.dispatch(
                &KERNEL,
                "normalization_backward",
                &[buf(dy), buf(variance), &out],
                bytemuck::bytes_of(&params),
                groups(dy.numel()),
            )?;
            Ok(gpu_tensor(&device, dy.shape().clone(), out))
        }
    }
}
