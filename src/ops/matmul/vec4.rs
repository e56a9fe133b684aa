//! The register-blocked kernel (`shaders/matmul_vec4.wgsl`): its tile shapes, the choice of
//! one from the adapter's limits and the output's size, the vec4 or scalar I/O per operand,
//! and the dispatch with the bias + activation epilogue (over several dispatches where K is
//! past a software adapter's loop budget: [`k_ranges`]).
//!
//! The WGSL is composed per (tile, I/O) variant when first used: the tile shape as consts,
//! then math.wgsl, activation.wgsl, one I/O section per operand, and the kernel body.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use super::{Dims, k_ranges};
use crate::device::{GpuBuffer, GpuContext, Kernel};
use crate::error::{Error, Result};
use crate::ops::buf;
use crate::tensor::Tensor;

const BODY: &str = include_str!("../../../shaders/matmul_vec4.wgsl");
const IO_ALIGNED: &str = include_str!("../../../shaders/matmul_vec4_io_aligned.wgsl");
const IO_UNALIGNED: &str = include_str!("../../../shaders/matmul_vec4_io_unaligned.wgsl");
const MATH: &str = include_str!("../../../shaders/math.wgsl");
const ACTIVATION: &str = include_str!("../../../shaders/activation.wgsl");

/// A tile shape: a `tm` x `tn` output tile per workgroup, K staged through workgroup memory
/// `tk` deep, `rm` x `rn` outputs per invocation (all multiples of 4); `cost` is its time per
/// output element relative to the others, padding included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Tile {
    tm: u32,
    tn: u32,
    tk: u32,
    rm: u32,
    rn: u32,
    cost: u32,
}

/// The tiles on offer, largest first. All fit WebGPU's guaranteed limits (256 invocations,
/// 16 KiB of workgroup memory); the 128x128 one needs all 16 KiB, more than some downlevel
/// (GLES-class) adapters give, where the 64x64 one takes over.
///
/// Shapes and costs were measured on lavapipe only (software Vulkan on 2 cores: 4.5, 4.0 and
/// 3.0 GFLOP/s at 512 x 512 x 512, so costs 9 : 10 : 13). There 8x8 outputs per invocation
/// beat 4x4 on 4x the invocations (4.0 against 3.5 GFLOP/s in 64x64 tiles), TK 16 beat TK 8,
/// and TK 32 (32 KiB) was no faster than TK 16. A real GPU may well prefer other shapes and
/// costs (and, for outputs of few tiles, smaller tiles to fill its compute units): measure
/// there and add them here, with the limits they need.
const TILES: [Tile; 3] = [
    Tile::new(128, 128, 16, 8, 8, 9),
    Tile::new(64, 64, 16, 8, 8, 10),
    Tile::new(32, 32, 16, 4, 4, 13),
];

impl Tile {
    const fn new(tm: u32, tn: u32, tk: u32, rm: u32, rn: u32, cost: u32) -> Tile {
        Tile {
            tm,
            tn,
            tk,
            rm,
            rn,
            cost,
        }
    }

    fn workgroup_size(self) -> (u32, u32) {
        (self.tn / self.rn, self.tm / self.rm)
    }

    /// The two staged tiles, `[tk][tm]` and `[tk][tn]` f32.
    fn workgroup_bytes(self) -> u32 {
        self.tk * (self.tm + self.tn) * 4
    }

    fn fits(self, limits: &wgpu::Limits) -> bool {
        let (x, y) = self.workgroup_size();
        x <= limits.max_compute_workgroup_size_x
            && y <= limits.max_compute_workgroup_size_y
            && x * y <= limits.max_compute_invocations_per_workgroup
            && self.workgroup_bytes() <= limits.max_compute_workgroup_storage_size
    }

    /// Loop trips one invocation takes per `tk` of K (on lavapipe, where they are counted): a
    /// trip of the outer loop, each staging loop's strided trips and exit, and 17 for the
    /// `tk`-deep inner loop, which Mesa does not unroll. Measured: 24 for the 32x32 and
    /// 128x128 tiles, 28 for the 64x64 one ([`k_ranges`]).
    fn trips_per_step(self) -> usize {
        let threads = {
            let (x, y) = self.workgroup_size();
            x * y
        };
        let staging = |rows: u32| (rows * self.tk / 4).div_ceil(threads) + 1;
        (1 + staging(self.tm) + staging(self.tn) + self.tk + 1) as usize
    }

    /// The relative time of an `m` x `n` output: elements computed, padding included, times
    /// the cost of one.
    fn time(self, m: usize, n: usize) -> usize {
        m.next_multiple_of(self.tm as usize)
            * n.next_multiple_of(self.tn as usize)
            * self.cost as usize
    }
}

/// The tile for an `m` x `n` output: of those that fit `limits`, the quickest by
/// [`Tile::time`] (the larger on a tie): a larger tile reuses each staged value more, but
/// computes its padding too (a 64-row output in 128-row tiles wastes half). `None` when no
/// tile fits, on an adapter below WebGPU's limits.
pub(super) fn choose_tile(limits: &wgpu::Limits, m: usize, n: usize) -> Option<Tile> {
    TILES
        .into_iter()
        .filter(|t| t.fits(limits))
        .min_by_key(|t| t.time(m, n))
}

/// The name of the variant that [`dispatch`] runs for `dims` under `limits`.
pub(super) fn variant(limits: &wgpu::Limits, dims: Dims) -> Option<&'static str> {
    choose_tile(limits, dims.m, dims.n).map(|tile| kernel(tile, Io::of(dims)).name)
}

/// Which operands are read (written) as vec4: those whose contiguous dim is a multiple of 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Io {
    a: bool,
    b: bool,
    c: bool,
}

impl Io {
    fn of(d: Dims) -> Io {
        // With K = 0 the operands are empty buffers of 4 bytes, less than one vec4.
        let nonempty = d.k > 0;
        Io {
            a: nonempty && (if d.trans_a { d.m } else { d.k }).is_multiple_of(4),
            b: nonempty && (if d.trans_b { d.k } else { d.n }).is_multiple_of(4),
            c: nonempty && d.n.is_multiple_of(4),
        }
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

/// The kernel of one (tile, I/O) variant, composed once. At most 3 x 8 variants exist, so
/// leaking their names and sources keeps them `'static` (as `Kernel` wants) at a bounded cost.
fn kernel(tile: Tile, io: Io) -> &'static Kernel {
    static KERNELS: LazyLock<Mutex<HashMap<(Tile, Io), &'static Kernel>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut kernels = KERNELS.lock().unwrap_or_else(|p| p.into_inner());
    kernels.entry((tile, io)).or_insert_with(|| {
        let file = |vec4: bool| if vec4 { IO_ALIGNED } else { IO_UNALIGNED };
        let letter = |vec4: bool| if vec4 { 'v' } else { 's' };
        let Tile {
            tm, tn, tk, rm, rn, ..
        } = tile;
        let name = format!(
            "matmul_vec4_{tm}x{tn}x{tk}_{rm}x{rn}_{}{}{}",
            letter(io.a),
            letter(io.b),
            letter(io.c)
        );
        let source = format!(
            "const TM: u32 = {tm}u;\nconst TN: u32 = {tn}u;\nconst TK: u32 = {tk}u;\n\
             const RM: u32 = {rm}u;\nconst RN: u32 = {rn}u;\n{MATH}{ACTIVATION}{}{}{}{BODY}",
            section(file(io.a), "a"),
            section(file(io.b), "b"),
            section(file(io.c), "c"),
        );
        Box::leak(Box::new(Kernel {
            name: Box::leak(name.into_boxed_str()),
            source: Box::leak(source.into_boxed_str()),
            params: Params::LAYOUT,
            entries: &[("matmul_vec4", 4)],
            trusted: false,
        }))
    })
}

/// Every (tile, I/O) variant, for the shader check.
pub(super) fn kernels() -> Vec<&'static Kernel> {
    TILES
        .into_iter()
        .flat_map(|tile| {
            (0..8u8).map(move |bits| {
                let io = Io {
                    a: bits & 1 != 0,
                    b: bits & 2 != 0,
                    c: bits & 4 != 0,
                };
                kernel(tile, io)
            })
        })
        .collect()
}

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
        act: u32,
        has_bias: u32,
        k_begin: u32,
        k_end: u32,
        accumulate: u32,
    }
}

/// Records `out = act(op(a) · op(b) + bias)`; a, b: as `dims`, bias: `[N]` (checked), out:
/// `[batch, M, N]`, none of them empty; `act` is an activation code of `ops::bias_act`. Where
/// K takes several dispatches, the earlier ones store raw sums (no bias, linear) and the last
/// adds its own, then the bias and the activation.
pub(super) fn dispatch(
    ctx: &Arc<GpuContext>,
    a: &Tensor,
    b: &Tensor,
    bias: Option<&Tensor>,
    act: u32,
    dims: Dims,
    out: &GpuBuffer,
) -> Result<()> {
    let limits = ctx.limits();
    let tile = choose_tile(limits, dims.m, dims.n).ok_or_else(|| {
        Error::device(
            ctx.info().to_string(),
            format!(
                "no matmul tile fits this adapter's limits ({} invocations, {} bytes of workgroup memory per workgroup; WebGPU guarantees 256 and 16384)",
                limits.max_compute_invocations_per_workgroup,
                limits.max_compute_workgroup_storage_size
            ),
        )
    })?;
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
        tiles_m: dims.m.div_ceil(tile.tm as usize) as u32,
        tiles_n: dims.n.div_ceil(tile.tn as usize) as u32,
        act: 0,
        has_bias: 0,
        k_begin: 0,
        k_end: 0,
        accumulate: 0,
    };
    let workgroups = u64::from(params.tiles_m) * u64::from(params.tiles_n) * dims.batch as u64;
    let has_bias = bias.is_some() as u32;
    // Without a bias, b stands in for it (unread): the binding must still hold one vec4.
    let bias = buf(bias.unwrap_or(b));
    let ranges = k_ranges(ctx, dims.k, tile.tk as usize, tile.trips_per_step());
    let last = ranges.len() - 1;
    for (i, (k_begin, k_end)) in ranges.into_iter().enumerate() {
        params.k_begin = k_begin;
        params.k_end = k_end;
        params.accumulate = u32::from(i > 0);
        // The epilogue once, on the whole sum: the ranges before store it raw.
        (params.act, params.has_bias) = if i == last { (act, has_bias) } else { (0, 0) };
        ctx.dispatch(
            kernel(tile, Io::of(dims)),
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
    fn every_tile_fits_webgpu_s_guaranteed_limits_and_divides_evenly() {
        for t in TILES {
            assert!(t.fits(&wgpu::Limits::default()), "{t:?}");
            let (x, y) = t.workgroup_size();
            // The staging loops move whole vec4s; the blocks are whole vec4s.
            assert_eq!((t.tk * t.tm / 4) % (x * y), 0, "{t:?}");
            assert_eq!((t.tk * t.tn / 4) % (x * y), 0, "{t:?}");
            assert!(t.rm % 4 == 0 && t.rn % 4 == 0 && t.tk % 4 == 0, "{t:?}");
            assert_eq!((t.tm % t.rm, t.tn % t.rn), (0, 0), "{t:?}");
        }
    }

    #[test]
    fn trips_per_step_are_those_measured_on_lavapipe() {
        let trips: Vec<usize> = TILES.iter().map(|t| t.trips_per_step()).collect();
        assert_eq!(trips, [24, 28, 24]);
    }

    #[test]
    fn large_outputs_take_the_largest_tile_that_the_limits_allow() {
        let webgpu = wgpu::Limits::default();
        assert_eq!(choose_tile(&webgpu, 1024, 1024), Some(TILES[0]));
        // 16 352 bytes of workgroup memory (downlevel): the 16 KiB tile does not fit.
        let downlevel = wgpu::Limits::downlevel_defaults();
        assert_eq!(choose_tile(&downlevel, 1024, 1024), Some(TILES[1]));
        let tiny = wgpu::Limits {
            max_compute_invocations_per_workgroup: 64,
            max_compute_workgroup_storage_size: 4096,
            ..webgpu.clone()
        };
        assert_eq!(choose_tile(&tiny, 1024, 1024), Some(TILES[2]));
        let too_small = wgpu::Limits {
            max_compute_invocations_per_workgroup: 32,
            ..webgpu
        };
        assert_eq!(choose_tile(&too_small, 1024, 1024), None);
    }

    #[test]
    fn small_outputs_take_a_tile_that_pads_them_less() {
        let limits = wgpu::Limits::default();
        // An LSTM step's [64, 512]: 128-row tiles would compute 64 rows of padding.
        assert_eq!(choose_tile(&limits, 64, 512), Some(TILES[1]));
        assert_eq!(choose_tile(&limits, 7, 13), Some(TILES[2]));
        assert_eq!(choose_tile(&limits, 1024, 10), Some(TILES[2]));
        // 200 x 200: 32x32 tiles pad 23% less than 128x128, too little for their cost.
        assert_eq!(choose_tile(&limits, 200, 200), Some(TILES[0]));
    }

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
