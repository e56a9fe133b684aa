//! The register-blocked kernel (`shaders/matmul_vec4.wgsl`): the vec4 or scalar I/O per
//! operand, and the dispatch of a plan (`plan.rs`: tile and K split) with the bias +
//! activation epilogue (over several dispatches where K is past a software adapter's loop
//! budget: [`k_ranges`]; then `split_sum` where K is split).
//!
//! The WGSL is composed per (tile, I/O, transposes) variant when first used: the tile shape
//! and transposes as consts, then math.wgsl, activation.wgsl, one I/O section per operand,
//! the kernel body, and the per-tile generated accumulators, staging, step and store
//! (`vec4_source.rs`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use super::plan::{Plan, TILES, Tile, plan, target};
use super::vec4_source::generated;
use super::{Dims, k_ranges, split_sum};
use crate::device::{GpuBuffer, GpuContext, Kernel};
use crate::error::{Error, Result};
use crate::ops::buf;
use crate::tensor::Tensor;

const BODY: &str = include_str!("../../../shaders/matmul_vec4.wgsl");
const IO_ALIGNED: &str = include_str!("../../../shaders/matmul_vec4_io_aligned.wgsl");
const IO_UNALIGNED: &str = include_str!("../../../shaders/matmul_vec4_io_unaligned.wgsl");
const MATH: &str = include_str!("../../../shaders/math.wgsl");
const ACTIVATION: &str = include_str!("../../../shaders/activation.wgsl");

/// The name of the variant that [`dispatch`] runs for `dims` under `limits` at `target`
/// workgroups (`None`: a software adapter's choice; see `plan`), its K splits and workgroups.
pub(super) fn variant(
    limits: &wgpu::Limits,
    dims: Dims,
    target: Option<u32>,
) -> Option<(&'static str, u32, u64)> {
    let plan = plan(limits, (dims.batch, dims.m, dims.n, dims.k), target)?;
    let workgroups = plan.workgroups(dims.batch, dims.m, dims.n);
    Some((
        kernel(plan.tile, Io::of(dims), target.is_some()).name,
        plan.splits,
        workgroups,
    ))
}

/// Which operands are read (written) as vec4, those whose contiguous dim is a multiple of 4,
/// and which are transposed: compile-time constants of each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Io {
    a: bool,
    b: bool,
    c: bool,
    trans_a: bool,
    trans_b: bool,
}

impl Io {
    fn of(d: Dims) -> Io {
        // With K = 0 the operands are empty buffers of 4 bytes, less than one vec4.
        let nonempty = d.k > 0;
        Io {
            a: nonempty && (if d.trans_a { d.m } else { d.k }).is_multiple_of(4),
            b: nonempty && (if d.trans_b { d.k } else { d.n }).is_multiple_of(4),
            c: nonempty && d.n.is_multiple_of(4),
            trans_a: d.trans_a,
            trans_b: d.trans_b,
        }
    }

    /// Every combination.
    fn all() -> impl Iterator<Item = Io> {
        (0..32u8).map(|bits| Io {
            a: bits & 1 != 0,
            b: bits & 2 != 0,
            c: bits & 4 != 0,
            trans_a: bits & 8 != 0,
            trans_b: bits & 16 != 0,
        })
    }
}

/// The `// @{name}` section of an I/O file, up to the next marker.
fn section(file: &'static str, name: &str) -> &'static str {
    let marker = format!("// @{name}\n");
    let start = file
        .find(&marker)
        .expect("every I/O file has sections a, b and c");
    let rest = &file[start..];
    let end = rest[marker.len()..]
        .find("// @")
        .map_or(rest.len(), |e| e + marker.len());
    &rest[..end]
}

/// The kernel of one (tile, I/O, prefetch) variant, composed once. At most 5 x 32 x 2 variants
/// exist, so leaking their names and sources keeps them `'static` (as `Kernel` wants) at a
/// bounded cost. `prefetch` loads the next K-tile into registers during the multiply-adds: for
/// hardware GPUs, where it hides global memory's latency; on a software adapter it measured
/// 5-29% slower (BENCHMARKS.md: registers there are LLVM's vectors, with no latency to hide),
/// so those stage each tile as they reach it.
fn kernel(tile: Tile, io: Io, prefetch: bool) -> &'static Kernel {
    type Variants = HashMap<(Tile, Io, bool), &'static Kernel>;
    static KERNELS: LazyLock<Mutex<Variants>> = LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut kernels = KERNELS.lock().unwrap_or_else(|p| p.into_inner());
    kernels.entry((tile, io, prefetch)).or_insert_with(|| {
        let file = |vec4: bool| if vec4 { IO_ALIGNED } else { IO_UNALIGNED };
        let letter = |vec4: bool| if vec4 { 'v' } else { 's' };
        let op = |t: bool| if t { 't' } else { 'n' };
        let Tile {
            tm, tn, tk, rm, rn, ..
        } = tile;
        let name = format!(
            "matmul_vec4_{tm}x{tn}x{tk}_{rm}x{rn}_{}{}{}_{}{}{}",
            letter(io.a),
            letter(io.b),
            letter(io.c),
            op(io.trans_a),
            op(io.trans_b),
            if prefetch { "_p" } else { "" },
        );
        let source = format!(
            "const TM: u32 = {tm}u;\nconst TN: u32 = {tn}u;\nconst TK: u32 = {tk}u;\n\
             const RM: u32 = {rm}u;\nconst RN: u32 = {rn}u;\n\
             const TRANS_A: bool = {};\nconst TRANS_B: bool = {};\nconst PREFETCH: bool = {prefetch};\n{MATH}{ACTIVATION}{}{}{}{BODY}{}",
            io.trans_a,
            io.trans_b,
            section(file(io.a), "a"),
            section(file(io.b), "b"),
            section(file(io.c), "c"),
            generated(tile, io.trans_a),
        );
        Box::leak(Box::new(Kernel {
            name: Box::leak(name.into_boxed_str()),
            source: Box::leak(source.into_boxed_str()),
            params: Params::LAYOUT,
            entries: &[("matmul_vec4", 4)],
            // Every storage access is checked against M, N, K and the batch (the host checked
            // that the buffers hold them); every workgroup index is below its array's length
            // by construction (staging: l < TM·TK/4, vec4_source.rs divides the tile evenly;
            // accumulate: rows below TM, k-quads below TK/4), and staging writes every cell of
            // a_s and b_s before the barrier that precedes any read. tests/ops_matmul.rs and
            // ops_matmul_split.rs run every variant on edges (1, primes, 1 x K, M x 1, K = 0)
            // with outputs and scratch poisoned.
            trusted: true,
        }))
    })
}

/// Every (tile, I/O) variant, for the shader check.
pub(super) fn kernels() -> Vec<&'static Kernel> {
    TILES
        .into_iter()
        .flat_map(|tile| Io::all().flat_map(move |io| [false, true].map(|p| kernel(tile, io, p))))
        .collect()
}

params! {
    struct Params {
        m: u32,
        n: u32,
        k: u32,
        batch: u32,
        a_stride: u32,
        b_stride: u32,
        tiles_m: u32,
        tiles_n: u32,
        act: u32,
        has_bias: u32,
        k_begin: u32,
        k_end: u32,
        accumulate: u32,
        splits: u32,
        k_split: u32,
    }
}

/// Records `out = act(op(a) · op(b) + bias)`; a, b: as `dims`, bias: `[N]` (checked), out:
/// `[batch, M, N]`, none of them empty; `act` is an activation code of `ops::bias_act`. The
/// plan is `forced`, or `plan`'s for this adapter. With K split, the kernel writes each
/// split's raw sum into a scratch `[S, batch, M, N]` and `split_sum` adds them in order, then
/// the bias and the activation.
#[allow(clippy::too_many_arguments)]
pub(super) fn dispatch(
    ctx: &Arc<GpuContext>,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: u32,
    dims: Dims,
    out: &GpuBuffer,
    forced: Option<Plan>,
) -> Result<()> {
    let limits = ctx.limits();
    let shape = (dims.batch, dims.m, dims.n, dims.k);
    let target = target(ctx.device_type());
    let chosen = forced.or_else(|| plan(limits, shape, target));
    // Hardware adapters prefetch; so do forced plans, the tests' way to run the hardware
    // variants on any adapter.
    let prefetch = target.is_some() || forced.is_some();
    let plan = chosen.ok_or_else(|| {
        Error::device(
            ctx.info().to_string(),
            format!(
                "no matmul tile fits this adapter's limits ({} invocations, {} bytes of workgroup memory per workgroup; WebGPU guarantees 256 and 16384)",
                limits.max_compute_invocations_per_workgroup,
                limits.max_compute_workgroup_storage_size
            ),
        )
    })?;
    if plan.splits == 1 {
        return record(ctx, a, b, bias, act, dims, (plan, prefetch), out);
    }
    let len = (dims.batch * dims.m * dims.n) as u64;
    let scratch = ctx.alloc_output(u64::from(plan.splits) * len * 4)?;
    record(ctx, a, b, None, 0, dims, (plan, prefetch), &scratch)?;
    split_sum::dispatch(ctx, &scratch, plan.splits, bias, act, (len, dims.n), out)
}

/// The vec4 kernel's dispatches for `plan`: one, or on a software adapter as many as its loop
/// budget needs over each split's range of K (`k_ranges`), the earlier ones storing raw sums
/// and the last adding its own, then the bias and the activation.
#[allow(clippy::too_many_arguments)]
fn record(
    ctx: &Arc<GpuContext>,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: u32,
    dims: Dims,
    (plan, prefetch): (Plan, bool),
    out: &GpuBuffer,
) -> Result<()> {
    let tile = plan.tile;
    let (a_stride, b_stride) = dims.strides();
    let (tiles_m, tiles_n) = tile.tiles(dims.m, dims.n);
    let mut params = Params {
        m: dims.m as u32,
        n: dims.n as u32,
        k: dims.k as u32,
        batch: dims.batch as u32,
        a_stride,
        b_stride,
        tiles_m: tiles_m as u32,
        tiles_n: tiles_n as u32,
        act: 0,
        has_bias: 0,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
        splits: plan.splits,
        k_split: plan.k_split,
    };
    let workgroups = plan.workgroups(dims.batch, dims.m, dims.n);
    let has_bias = bias.is_some() as u32;
    // Without a bias, b stands in for it (unread): the binding must still hold one vec4.
    let bias = buf(bias.unwrap_or(b));
    let split_len = (plan.k_split as usize).min(dims.k);
    let ranges = k_ranges(ctx, split_len, tile.tk as usize, tile.trips_per_step());
    let last = ranges.len() - 1;
    for (i, (k_begin, k_end)) in ranges.into_iter().enumerate() {
        params.k_begin = k_begin;
        params.k_end = k_end;
        params.accumulate = u32::from(i > 0);
        // The epilogue once, on the whole sum: the ranges before store it raw.
        (params.act, params.has_bias) = if i == last { (act, has_bias) } else { (0, 0) };
        ctx.dispatch(
            kernel(tile, Io::of(dims), prefetch),
            "matmul_vec4",
            &[buf(a), buf(b), bias, out],
            bytemuck::bytes_of(&params),
            workgroups,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_sections_hold_their_operand_s_bindings() {
        for file in [IO_ALIGNED, IO_UNALIGNED] {
            assert!(section(file, "a").contains("fn load_a4"));
            assert!(!section(file, "a").contains("fn load_b4"));
            assert!(section(file, "b").contains("fn load_b4"));
            let c = section(file, "c");
            assert!(c.contains("fn load_bias4") && c.contains("fn store_c4"));
            assert!(c.contains("fn load_c4"));
        }
    }
}
