//! Row gather (`shaders/gather.wgsl`): src: `[R, ...]`, idx: `[B]` (u32) -> out: `[B, ...]`,
//! out\[b\] = src[idx\[b\]]. Indices must be < R; the CPU twin checks, the GPU trusts the host.

use super::{buf, common_device, gpu_output, gpu_tensor, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::{DType, Tensor};

pub(crate) const KERNEL: Kernel = Kernel {
    name: "gather",
    source: include_str!("../../shaders/gather.wgsl"),
    params: Params::LAYOUT,
    entries: &[("gather_rows", 3)],
    trusted: false,
};

params! {
    struct Params {
        rows_out: u32,
        cols: u32,
    }
}

/// Rows of `src` picked by `idx`, in order (NumPy's `src[idx]`; the Embedding lookup).
///
/// src: `[R, ...]` f32, idx: `[B]` u32 -> `[B, ...]`.
///
/// # Errors
/// [`Error::Shape`] for a scalar src or an idx that is not 1-d;
/// [`Error::Data`] for an index `>= R` (checked on the CPU only: on a GPU the caller must
/// check, as the Embedding layer does), wrong dtypes, or tensors on two devices.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::gather::gather_rows;
/// let device = Device::cpu();
/// let src = Tensor::from_vec(&device, [3, 2], vec![0.0, 1.0, 10.0, 11.0, 20.0, 21.0])?;
/// let idx = Tensor::from_u32(&device, [2], vec![2, 0])?;
/// let out = gather_rows(&src, &idx)?;
/// assert_eq!((out.dims(), out.to_vec_blocking()?), (&[2, 2][..], vec![20.0, 21.0, 0.0, 1.0]));
/// let bad = Tensor::from_u32(&device, [1], vec![3])?;
/// assert!(matches!(gather_rows(&src, &bad), Err(Error::Data(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn gather_rows(src: &Tensor, idx: &Tensor) -> Result<Tensor> {
    let device = common_device("gather_rows", &[(src, DType::F32), (idx, DType::U32)])?;
    if src.dims().is_empty() {
        return Err(shape_error(
            "gather_rows",
            &[None],
            src.dims(),
            "src must have rows (at least 1 axis), not be a scalar",
        ));
    }
    if idx.dims().len() != 1 {
        return Err(shape_error(
            "gather_rows",
            &[None],
            idx.dims(),
            "idx must be 1-d",
        ));
    }
    let rows = src.dims()[0];
    let cols: usize = src.dims()[1..].iter().product();
    let mut out_dims = vec![idx.dims()[0]];
    out_dims.extend_from_slice(&src.dims()[1..]);
    let out_shape = Shape(out_dims);
    match &device {
        Device::Cpu => {
            let indices = idx.cpu_u32().expect("checked to be a CPU u32 tensor");
            let data = host(src);
            let mut out = crate::device::cpu_pool::with_capacity(out_shape.numel());
            for (b, &i) in indices.iter().enumerate() {
                let i = i as usize;
                if i >= rows {
                    return Err(Error::Data(format!(
                        "gather_rows: index {i} at position {b} is out of range for {rows} rows"
                    )));
                }
                out.extend_from_slice(&data.f32()[i * cols..(i + 1) * cols]);
            }
            Tensor::from_vec(&device, out_shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &out_shape)?;
            let params = Params {
                rows_out: idx.dims()[0] as u32,
                cols: cols as u32,
            };
            ctx.dispatch(
                &KERNEL,
                "gather_rows",
                &[buf(src), buf(idx), &out],
                bytemuck::bytes_of(&params),
                super::groups(out_shape.numel()),
            )?;
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}
