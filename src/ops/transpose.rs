//! 2-d transpose (`shaders/transpose.wgsl`), with a CPU twin: x `[R, C]` -> `[C, R]`.
//!
//! The LSTM's backward kernels read the recurrent kernel transposed, so that neighbouring
//! invocations (neighbouring units) read neighbouring addresses.

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "transpose",
    source: include_str!("../../shaders/transpose.wgsl"),
    params: Params::LAYOUT,
    entries: &[("transpose", 2)],
    trusted: false,
};

params! {
    struct Params {
        rows: u32,
        cols: u32,
    }
}

/// `out[j, i] = x[i, j]`: x `[R, C]` -> `[C, R]`.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when x is not 2-d;
/// [`Error::Data`](crate::Error::Data) for a u32 tensor.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::transpose::transpose;
/// let x = Tensor::from_vec(&Device::cpu(), [2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let t = transpose(&x)?;
/// assert_eq!(t.dims(), &[3, 2]);
/// assert_eq!(t.to_vec_blocking()?, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn transpose(x: &Tensor) -> Result<Tensor> {
    let device = f32_device("transpose", &[x])?;
    let [rows, cols] = *x.dims() else {
        return Err(shape_error(
            "transpose",
            &[None, None],
            x.dims(),
            "transpose takes a 2-d tensor",
        ));
    };
    let out_shape = Shape(vec![cols, rows]);
    match &device {
        Device::Cpu => {
            let host_x = host(x);
            let xs = host_x.f32();
            let out = (0..cols * rows)
                .map(|o| xs[(o % rows) * cols + o / rows])
                .collect();
            Tensor::from_vec(&device, out_shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &out_shape)?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
            };
            ctx.dispatch(
                &KERNEL,
                "transpose",
                &[buf(x), &out],
                bytemuck::bytes_of(&params),
                groups(rows * cols),
            )?;
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}
