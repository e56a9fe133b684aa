//! The scalar kernels of `shaders/matmul.wgsl`: `Tiled` (64x64 tiles, 4x4 outputs per
//! invocation) and `Naive` (one output per invocation), kept to measure against. A K past a
//! software adapter's loop budget is summed over several dispatches ([`k_ranges`]).

use std::sync::Arc;

use super::{Dims, MatmulKernel, k_ranges};
use crate::device::{GpuBuffer, GpuContext, Kernel};
use crate::error::Result;
use crate::ops::buf;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "matmul",
    source: include_str!("../../../shaders/matmul.wgsl"),
    params: Params::LAYOUT,
    entries: &[("matmul_tiled", 3), ("matmul_naive", 3)],
    trusted: false,
};

params! {
    struct Params {
        m: u32,
        n: u32,
        k: u32,
        batch: u32,
        trans_a: u32,
        trans_b: u32,
        a_stride: u32,
        b_stride: u32,
        tiles_m: u32,
        tiles_n: u32,
        k_begin: u32,
        k_end: u32,
        accumulate: u32,
    }
}

/// Records `out = op(a) · op(b)` with `kernel` (`Tiled` or `Naive`); a, b: as `dims`, out:
/// `[batch, M, N]`, none of them empty.
pub(super) fn dispatch(
    ctx: &Arc<GpuContext>,
    a: &Tensor,
    b: &Tensor,
    kernel: MatmulKernel,
    dims: Dims,
    out: &GpuBuffer,
) -> Result<()> {
    // Loop trips per step of K: the naive kernel's loop takes one per k; the tiled one's a
    // trip of its outer loop and 17 of its inner 16 (not unrolled: measured on lavapipe).
    let (tile, entry, step, trips_per_step) = match kernel {
        MatmulKernel::Naive => (16, "matmul_naive", 1, 1),
        MatmulKernel::Tiled | MatmulKernel::Vec4 => (64, "matmul_tiled", 16, 18),
    };
    let (a_stride, b_stride) = dims.strides();
    let mut params = Params {
        m: dims.m as u32,
        n: dims.n as u32,
        k: dims.k as u32,
        batch: dims.batch as u32,
        trans_a: dims.trans_a as u32,
        trans_b: dims.trans_b as u32,
        a_stride,
        b_stride,
        tiles_m: dims.m.div_ceil(tile) as u32,
        tiles_n: dims.n.div_ceil(tile) as u32,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
    };
    let workgroups = u64::from(params.tiles_m) * u64::from(params.tiles_n) * dims.batch as u64;
    for (i, (k_begin, k_end)) in k_ranges(ctx, dims.k, step, trips_per_step)
        .into_iter()
        .enumerate()
    {
        params.k_begin = k_begin;
        params.k_end = k_end;
        params.accumulate = u32::from(i > 0);
        ctx.dispatch(
            &KERNEL,
            entry,
            &[buf(a), buf(b), out],
            bytemuck::bytes_of(&params),
            workgroups,
        )?;
    }
    Ok(())
}
