//! Sum and mean over one axis (`shaders/reduce.wgsl`; `shaders/reduce_subgroup.wgsl`, one
//! workgroup per output, where the device has subgroups and the shape gains from it).
//!
//! x: `[d0, ..., dk, ...]` -> out: x's shape without axis k (x seen as `[outer, n, inner]`).
//! A software adapter runs an axis longer than its loop budget as several dispatches, each
//! adding its stretch of the axis to the sums so far (the same order as in one).

use super::{
    buf, f32_device, gpu_output, gpu_tensor, groups, host, loop_ranges, shape_error,
    split_sum_helps,
};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "reduce",
    source: include_str!("../../shaders/reduce.wgsl"),
    params: Params::LAYOUT,
    entries: &[("reduce_axis", 2)],
    trusted: false,
};

/// One workgroup per output, adding through subgroup operations.
pub(crate) const KERNEL_SUBGROUP: Kernel = Kernel {
    name: "reduce_subgroup",
    source: concat!(
        include_str!("../../shaders/workgroup_reduce_subgroup.wgsl"),
        include_str!("../../shaders/reduce_subgroup.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("reduce_axis", 2)],
    trusted: false,
};

params! {
    struct Params {
        outer: u32,
        n: u32,
        inner: u32,
        mean: u32,
        // The terms lo..hi of each sum, added to what the dispatch before left in out.
        lo: u32,
        hi: u32,
    }
}

/// Sum over `axis` (NumPy's `x.sum(axis=axis)`): the result has x's shape without that axis.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when `axis` is not below x's rank;
/// [`Error::Data`](crate::Error::Data) for a u32 tensor.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::reduce::{mean, sum};
/// let x = Tensor::from_vec(&Device::cpu(), [2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(sum(&x, 0)?.to_vec_blocking()?, vec![5.0, 7.0, 9.0]);
/// assert_eq!(mean(&x, 1)?.to_vec_blocking()?, vec![2.0, 5.0]);
/// assert!(matches!(sum(&x, 2), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn sum(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce(x, axis, false)
}

/// Mean over `axis` (0 for an empty axis); shapes and errors as [`sum`], which has the
/// example.
pub fn mean(x: &Tensor, axis: usize) -> Result<Tensor> {
    reduce(x, axis, true)
}

fn reduce(x: &Tensor, axis: usize, mean: bool) -> Result<Tensor> {
    let device = f32_device("reduce", &[x])?;
    let dims = x.dims();
    if axis >= dims.len() {
        return Err(shape_error(
            "reduce",
            &vec![None; axis + 1],
            dims,
            &format!("axis {axis} is out of range"),
        ));
    }
    let outer: usize = dims[..axis].iter().product();
    let n = dims[axis];
    let inner: usize = dims[axis + 1..].iter().product();
    let mut out_dims = dims.to_vec();
    out_dims.remove(axis);
    let out_shape = Shape(out_dims);
    match &device {
        Device::Cpu => {
            let out = reduce_cpu(host(x).f32(), outer, n, inner, mean);
            Tensor::from_vec(&device, out_shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &out_shape)?;
            let outputs = outer * inner;
            let split = ctx.use_subgroups(|kind| split_sum_helps(kind, outputs, n));
            // The subgroup kernel's 256 invocations per output stride over the axis together.
            let (kernel, workgroups, lanes) = if split {
                (&KERNEL_SUBGROUP, outputs as u64, 256)
            } else {
                (&KERNEL, groups(outputs), 1)
            };
            for (lo, hi) in loop_ranges(ctx, n, |trips| trips * lanes) {
                let params = Params {
                    outer: outer as u32,
                    n: n as u32,
                    inner: inner as u32,
                    mean: mean as u32,
                    lo,
                    hi,
                };
                ctx.dispatch(
                    kernel,
                    "reduce_axis",
                    &[buf(x), &out],
                    bytemuck::bytes_of(&params),
                    workgroups,
                )?;
            }
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}

/// CPU twin: sums each output's n inputs in order (rows of `inner` at a time, so the reads are
/// contiguous; each output still adds its inputs in the kernel's order).
fn reduce_cpu(x: &[f32], outer: usize, n: usize, inner: usize, mean: bool) -> Vec<f32> {
    let mut out = vec![0.0; outer * inner];
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        for t in 0..n {
            let row = &x[(o * n + t) * inner..(o * n + t + 1) * inner];
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
        if mean && n > 0 {
            acc.iter_mut().for_each(|a| *a /= n as f32);
        }
    }
    out
}
