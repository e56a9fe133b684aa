//! The scalar kernels of `shaders/matmul.wgsl`: `Tiled` (64x64 tiles, 4x4 outputs per
//! invocation) and `Naive` (one output per invocation), kept to measure against.

use std::sync::Arc;

use super::{Dims, MatmulKernel};
use crate::device::{GpuBuffer, GpuContext, Kernel};
use crate::error::Result;
use crate::ops::buf;
use crate::tensor::Tensor;

const KERNEL: Kernel = Kernel {
    name: "matmul",
    source: include_str!("../../../shaders/matmul.wgsl"),
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
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
    let (tile, entry) = match kernel {
        MatmulKernel::Naive => (16, "matmul_naive"),
        MatmulKernel::Tiled | MatmulKernel::Vec4 => (64, "matmul_tiled"),
    };
    let (a_stride, b_stride) = dims.strides();
    let params = Params {
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
    };
    let workgroups = u64::from(params.tiles_m) * u64::from(params.tiles_n) * dims.batch as u64;
    ctx.dispatch(
        &KERNEL,
        entry,
        &[buf(a), buf(b), out],
        bytemuck::bytes_of(&params),
        workgroups,
    )
}
