//! Sum and mean over one axis (`shaders/reduce.wgsl`; `shaders/reduce_subgroup.wgsl`, one
//! workgroup per output, where the device has subgroups and the shape gains from it).
//!
//! x: `[d0, ..., dk, ...]` -> out: x's shape without axis k (x seen as `[outer, n, inner]`).
//! A software adapter runs an axis longer than its loop budget as several dispatches, each
//! adding its stretch of the axis to the sums so far (the same order as in one).
//!
//! Column sums (inner > 1: a bias gradient's `sum(dz, 0)` over `[rows, units]`) go through
//! `shaders/reduce_columns.wgsl` instead, on every device: tiles of 64 columns by chunks of
//! [`CHUNK_ROWS`] rows, each summed by 4 lanes per column, then the chunks' partial sums
//! added in order by `reduce.wgsl`. The order is fixed by the shape alone, and the CPU twin
//! keeps it, so both sides agree to the bit.

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

/// Column sums in tiles of 64 columns by chunks of [`CHUNK_ROWS`] rows.
pub(crate) const KERNEL_COLUMNS: Kernel = Kernel {
    name: "reduce_columns",
    source: include_str!("../../shaders/reduce_columns.wgsl"),
    params: ColumnParams::LAYOUT,
    entries: &[("column_partials", 2)],
    trusted: false,
};

/// Rows per chunk of a column sum: 64 loads per invocation (4 lanes per column), and a
/// `[6400, 512]` bias gradient in 8 x 25 workgroups of 256 invocations.
pub(crate) const CHUNK_ROWS: usize = 256;

/// Lanes per column in a chunk (the kernel's workgroup's second dimension).
const LANES: usize = 4;

/// Columns per workgroup (the kernel's workgroup's first dimension).
const TILE_COLS: usize = 64;

params! {
    struct ColumnParams {
        outer: u32,
        n: u32,
        inner: u32,
        chunks: u32,
        rows: u32,
        // Each partial sum is divided by this when not 0 (a mean).
        divisor: u32,
    }
}

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
    if inner > 1 {
        return columns(x, &device, out_shape, outer, n, inner, mean);
    }
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

/// Chunks of [`CHUNK_ROWS`] rows in a column sum over `n` rows (one for an empty axis).
fn chunks(n: usize) -> usize {
    n.div_ceil(CHUNK_ROWS).max(1)
}

/// Column sums (or means) of x seen as `[outer, n, inner]`, inner > 1.
fn columns(
    x: &Tensor,
    device: &Device,
    out_shape: Shape,
    outer: usize,
    n: usize,
    inner: usize,
    mean: bool,
) -> Result<Tensor> {
    let chunks = chunks(n);
    let divisor = if mean { n as u32 } else { 0 };
    let ctx = match device {
        Device::Cpu => {
            let out = columns_cpu(host(x).f32(), outer, n, inner, mean);
            return Tensor::from_vec(device, out_shape, out);
        }
        Device::Gpu(ctx) => ctx,
    };
    let params = ColumnParams {
        outer: outer as u32,
        n: n as u32,
        inner: inner as u32,
        chunks: chunks as u32,
        rows: CHUNK_ROWS as u32,
        divisor,
    };
    let workgroups = (inner.div_ceil(TILE_COLS) * chunks * outer) as u64;
    let out = gpu_output(ctx, &out_shape)?;
    if chunks == 1 {
        ctx.dispatch(
            &KERNEL_COLUMNS,
            "column_partials",
            &[buf(x), &out],
            bytemuck::bytes_of(&params),
            workgroups,
        )?;
        return Ok(gpu_tensor(device, out_shape, out));
    }
    // Every partial sum is written by the first dispatch before the second reads it.
    let partials = ctx.alloc((outer * chunks * inner * 4) as u64)?;
    ctx.dispatch(
        &KERNEL_COLUMNS,
        "column_partials",
        &[buf(x), &partials],
        bytemuck::bytes_of(&params),
        workgroups,
    )?;
    for (lo, hi) in loop_ranges(ctx, chunks, |trips| trips) {
        let params = Params {
            outer: outer as u32,
            n: chunks as u32,
            inner: inner as u32,
            mean: 0,
            lo,
            hi,
        };
        ctx.dispatch(
            &KERNEL,
            "reduce_axis",
            &[&partials, &out],
            bytemuck::bytes_of(&params),
            groups(outer * inner),
        )?;
    }
    Ok(gpu_tensor(device, out_shape, out))
}

/// CPU twin of the column sum, in the kernels' order: per chunk of rows, lane k of 4 adds
/// rows k, k + 4, ... of the chunk in order, the lanes combine as ((l0 + l1) + l2) + l3
/// (divided by n for a mean), and the chunks' sums are added in order. Rows are added whole,
/// so the loops run over contiguous columns.
fn columns_cpu(x: &[f32], outer: usize, n: usize, inner: usize, mean: bool) -> Vec<f32> {
    let mut out = vec![0.0; outer * inner];
    let mut lanes = vec![0.0f32; LANES * inner];
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        for lo in (0..n.max(1)).step_by(CHUNK_ROWS) {
            lanes.iter_mut().for_each(|l| *l = 0.0);
            for t in lo..(lo + CHUNK_ROWS).min(n) {
                let lane = &mut lanes[(t - lo) % LANES * inner..][..inner];
                let row = &x[(o * n + t) * inner..][..inner];
                lane.iter_mut().zip(row).for_each(|(l, &v)| *l += v);
            }
            let (l0, rest) = lanes.split_at(inner);
            let (l1, rest) = rest.split_at(inner);
            let (l2, l3) = rest.split_at(inner);
            for (j, a) in acc.iter_mut().enumerate() {
                let mut total = ((l0[j] + l1[j]) + l2[j]) + l3[j];
                if mean && n > 0 {
                    total /= n as f32;
                }
                *a += total;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_ROWS, columns_cpu, reduce_cpu};

    /// The tiled order sums what the plain order sums (to rounding), for awkward sizes.
    #[test]
    fn column_sums_in_the_kernel_s_order_match_the_plain_order() {
        for (outer, n, inner) in [(1, 0, 3), (1, 1, 2), (2, 7, 3), (1, 257, 5), (3, 1031, 2)] {
            let x: Vec<f32> = (0..outer * n * inner)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect();
            for mean in [false, true] {
                let want = reduce_cpu(&x, outer, n, inner, mean);
                let got = columns_cpu(&x, outer, n, inner, mean);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
                }
            }
        }
        // one row per chunk boundary: exact
        let x = vec![1.0; (CHUNK_ROWS + 1) * 2];
        assert_eq!(columns_cpu(&x, 1, CHUNK_ROWS + 1, 2, false), vec![257.0; 2]);
    }
}
