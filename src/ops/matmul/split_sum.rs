//! The fixed-order sum that ends a split-K matmul (`shaders/matmul_split_sum.wgsl`): the vec4
//! kernel wrote one partial product per range of K into a scratch `[S, batch, M, N]`
//! (`plan.rs` says when K is split); this adds the `S` partials in order, the bias and the
//! activation, one invocation per output. The CPU twin is the matmul's own (`matmul_cpu`):
//! the split changes only the order of the additions.

use std::sync::Arc;

use crate::device::{GpuBuffer, GpuContext, Kernel};
use crate::error::Result;
use crate::ops::{buf, groups};
use crate::tensor::Tensor;

pub(super) const KERNEL: Kernel = Kernel {
    name: "matmul_split_sum",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/activation.wgsl"),
        include_str!("../../../shaders/matmul_split_sum.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("matmul_split_sum", 3)],
    // i < len is checked; s < splits makes s·len + i < the scratch's splits·len; no workgroup
    // memory.
    trusted: true,
};

params! {
    struct Params {
        len: u32,
        n: u32,
        splits: u32,
        act: u32,
        has_bias: u32,
    }
}

/// Records `out = act(sum over s of partial[s] + bias)`; partial: `[splits, len]`, bias: `[n]`
/// (or `None`), out: `[len]` with rows of `n`; `act` an activation code of `ops::bias_act`.
pub(super) fn dispatch(
    ctx: &Arc<GpuContext>,
    partial: &GpuBuffer,
    splits: u32,
    bias: Option<&Tensor>,
    act: u32,
    (len, n): (u64, usize),
    out: &GpuBuffer,
) -> Result<()> {
    let params = Params {
        len: len as u32,
        n: n as u32,
        splits,
        act,
        has_bias: bias.is_some() as u32,
    };
    // Without a bias, the partials stand in for it (unread).
    let bias = bias.map_or(partial, buf);
    ctx.dispatch(
        &KERNEL,
        "matmul_split_sum",
        &[partial, bias, out],
        bytemuck::bytes_of(&params),
        groups(len as usize),
    )
}
