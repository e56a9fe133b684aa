//! Time reversal (`shaders/reverse_time.wgsl`), with a CPU twin: x `[B, T, ...]` -> the same
//! shape with axis 1 flipped, `out[b, t] = x[b, T - 1 - t]`.
//!
//! The backward direction of a [`Bidirectional`](crate::layers::Bidirectional) RNN runs over
//! its input and mask reversed through it, as Keras's `go_backwards` does, and its outputs
//! and gradients come back through it.

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "reverse_time",
    source: include_str!("../../shaders/reverse_time.wgsl"),
    params: Params::LAYOUT,
    entries: &[("reverse_time", 2)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        steps: u32,
        inner: u32,
        pad: u32,
    }
}

/// Flips the time axis (axis 1) of `x: [B, T, ...]` (values `[B, T, F]` or a mask `[B, T]`);
/// a new tensor of x's shape. Keras's `ops.flip(x, axis=1)`.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when x has fewer than 2 dims;
/// [`Error::Data`](crate::Error::Data) for a u32 tensor.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::reverse_time::reverse_time;
/// let d = Device::cpu();
/// let x = Tensor::from_vec(&d, [1, 3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(reverse_time(&x)?.to_vec_blocking()?, vec![5.0, 6.0, 3.0, 4.0, 1.0, 2.0]);
/// let mask = Tensor::from_vec(&d, [2, 3], vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0])?;
/// assert_eq!(reverse_time(&mask)?.to_vec_blocking()?, vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn reverse_time(x: &Tensor) -> Result<Tensor> {
    let device = f32_device("reverse_time", &[x])?;
    let dims = x.dims();
    if dims.len() < 2 {
        return Err(shape_error(
            "reverse_time",
            &[None, None],
            dims,
            "reverse_time flips axis 1 of a [B, T, ...] tensor",
        ));
    }
    let (steps, inner) = (dims[1], dims[2..].iter().product::<usize>());
    let shape = Shape(dims.to_vec());
    let n = shape.numel();
    match &device {
        Device::Cpu => {
            let host_x = host(x);
            Tensor::from_vec(&device, shape, reverse_time_cpu(host_x.f32(), steps, inner))
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &shape)?;
            if n > 0 {
                let params = Params {
                    n: n as u32,
                    steps: steps as u32,
                    inner: inner as u32,
                    pad: 0,
                };
                ctx.dispatch(
                    &KERNEL,
                    "reverse_time",
                    &[buf(x), &out],
                    bytemuck::bytes_of(&params),
                    groups(n),
                )?;
            }
            Ok(gpu_tensor(&device, shape, out))
        }
    }
}

// CPU twin: x [B, T, inner] -> out[b, t] = x[b, T - 1 - t].
fn reverse_time_cpu(x: &[f32], steps: usize, inner: usize) -> Vec<f32> {
    if x.is_empty() {
        return Vec::new(); // chunks of 0 (T or F of 0) are not allowed
    }
    let mut out = Vec::with_capacity(x.len());
    for sequence in x.chunks(steps * inner) {
        for step in sequence.chunks(inner).rev() {
            out.extend_from_slice(step);
        }
    }
    out
}
