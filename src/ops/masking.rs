//! Keras's Masking as kernels (`shaders/masking.wgsl`).
//!
//! forward:  x: `[B, T, F]` -> (x with masked steps zeroed, mask: `[B, T]`); a step is masked
//!           when all its features equal `mask_value`.
//! backward: dy: `[B, T, F]`, mask: `[B, T]` -> dx = dy * mask.
//!
//! The forward kernel loops over a step's features; a software adapter runs steps of more
//! features than its loop budget allows as several dispatches (see `shaders/masking.wgsl`).

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, loop_ranges, shape_error};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "masking",
    source: include_str!("../../shaders/masking.wgsl"),
    params: Params::LAYOUT,
    entries: &[("masking_forward", 3), ("masking_backward", 3)],
    trusted: false,
};

params! {
    struct Params {
        rows: u32,
        features: u32,
        mask_value: f32,
        // The steps of masking_forward's loop over 2F this dispatch runs.
        lo: u32,
        hi: u32,
    }
}

fn steps(x: &Tensor) -> Result<(usize, usize, usize)> {
    match *x.dims() {
        [b, t, f] => Ok((b, t, f)),
        _ => Err(shape_error(
            "masking",
            &[None, None, None],
            x.dims(),
            "Masking takes [B, T, F] sequences",
        )),
    }
}

/// `(x * mask, mask)` with `mask[b, t] = any_f(x[b, t, f] != mask_value)` (Keras's
/// `Masking(mask_value)`).
///
/// x: `[B, T, F]` -> (x with masked steps zeroed: `[B, T, F]`, mask: `[B, T]` of 1.0 for kept
/// steps and 0.0 for masked ones). A step is masked only when *all* its features equal
/// `mask_value`, so with no features (`F = 0`) every step is masked, as in Keras.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when x is not 3-d;
/// [`Error::Data`](crate::Error::Data) for a u32 tensor.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::masking::masking_forward;
/// let x = Tensor::from_vec(&Device::cpu(), [1, 3, 2], vec![1.0, 2.0, -1.0, -1.0, 3.0, -1.0])?;
/// let (out, mask) = masking_forward(&x, -1.0)?;
/// assert_eq!(mask.to_vec_blocking()?, vec![1.0, 0.0, 1.0]); // step 1 is all -1
/// assert_eq!(out.to_vec_blocking()?, vec![1.0, 2.0, 0.0, 0.0, 3.0, -1.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn masking_forward(x: &Tensor, mask_value: f32) -> Result<(Tensor, Tensor)> {
    let device = f32_device("masking", &[x])?;
    let (b, t, f) = steps(x)?;
    let mask_shape = Shape(vec![b, t]);
    match &device {
        Device::Cpu => {
            let xs = host(x);
            let mut out = Vec::with_capacity(b * t * f);
            let mut mask = Vec::with_capacity(b * t);
            for s in 0..b * t {
                // With F = 0 no feature differs: every step is masked, as in Keras.
                let step = &xs.f32()[s * f..(s + 1) * f];
                let m = f32::from(u8::from(step.iter().any(|&v| v != mask_value)));
                mask.push(m);
                out.extend(step.iter().map(|&v| v * m));
            }
            Ok((
                Tensor::from_vec(&device, x.shape().clone(), out)?,
                Tensor::from_vec(&device, mask_shape, mask)?,
            ))
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, x.shape())?;
            let mask = gpu_output(ctx, &mask_shape)?;
            for (lo, hi) in loop_ranges(ctx, 2 * f, |trips| trips) {
                let params = Params {
                    rows: (b * t) as u32,
                    features: f as u32,
                    mask_value,
                    lo,
                    hi,
                };
                ctx.dispatch(
                    &KERNEL,
                    "masking_forward",
                    &[buf(x), &out, &mask],
                    bytemuck::bytes_of(&params),
                    groups(b * t),
                )?;
            }
            Ok((
                gpu_tensor(&device, x.shape().clone(), out),
                gpu_tensor(&device, mask_shape, mask),
            ))
        }
    }
}

/// `dy * mask` broadcast over features: dy: `[B, T, F]`, mask: `[B, T]` (from
/// [`masking_forward`]) -> dx: `[B, T, F]`.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when dy is not 3-d or the mask is not `[B, T]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::masking::masking_backward;
/// let device = Device::cpu();
/// let dy = Tensor::from_vec(&device, [1, 3, 2], vec![1.0; 6])?;
/// let mask = Tensor::from_vec(&device, [1, 3], vec![1.0, 0.0, 1.0])?;
/// let dx = masking_backward(&dy, &mask)?;
/// assert_eq!(dx.to_vec_blocking()?, vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn masking_backward(dy: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let device = f32_device("masking_backward", &[dy, mask])?;
    let (b, t, f) = steps(dy)?;
    if mask.dims() != [b, t] {
        return Err(shape_error(
            "masking_backward",
            &[Some(b), Some(t)],
            mask.dims(),
            "the mask must be [B, T]",
        ));
    }
    match &device {
        Device::Cpu => {
            let (g, m) = (host(dy), host(mask));
            let out = g
                .f32()
                .iter()
                .enumerate()
                .map(|(i, &v)| v * m.f32()[i / f.max(1)])
                .collect();
            Tensor::from_vec(&device, dy.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, dy.shape())?;
            let params = Params {
                rows: (b * t) as u32,
                features: f as u32,
                mask_value: 0.0,
                lo: 0,
                hi: 0,
            };
            // The mask is bound read-write (the forward writes it); this entry only reads it.
            ctx.dispatch(
                &KERNEL,
                "masking_backward",
                &[buf(dy), &out, buf(mask)],
                bytemuck::bytes_of(&params),
                groups(b * t * f),
            )?;
            Ok(gpu_tensor(&device, dy.shape().clone(), out))
        }
    }
}
