//! How the vec4 kernel covers an output: the tile shape and the split of K, chosen by a pure
//! function of the shape, the adapter's limits and its target workgroup count ([`plan`]).
//!
//! - A software adapter (lavapipe, wgfit's only measured one) keeps the choice measured there:
//!   the tile of least time, padding counted ([`Tile::time`]), K unsplit.
//! - A hardware adapter wants enough workgroups to fill its compute units: the largest tile
//!   that gives `target` workgroups; else the largest that does with K split into `S` ranges
//!   (each writes its partial sum to a scratch `[S, batch, M, N]`, then one kernel adds the
//!   `S` partials in a fixed order, the bias and the activation: `split_sum.rs`); else the
//!   plan of the most workgroups. This is reasoning, not yet measured on any hardware GPU.
//!
//! wgpu does not report an adapter's compute units, so `target` comes from its device type
//! ([`default_target`]) unless `WGFIT_MATMUL_WORKGROUPS` says otherwise ([`target`]).

use std::sync::LazyLock;

/// A tile shape: a `tm` x `tn` output tile per workgroup, K staged through workgroup memory
/// `tk` deep, `rm` x `rn` outputs per invocation (all multiples of 4); `cost` is its time per
/// output element relative to the others on lavapipe, padding included (0: not measured there,
/// so never chosen on a software adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Tile {
    pub(super) tm: u32,
    pub(super) tn: u32,
    pub(super) tk: u32,
    pub(super) rm: u32,
    pub(super) rn: u32,
    cost: u32,
}

/// The tiles on offer, largest first. All fit WebGPU's guaranteed limits (256 invocations,
/// 16 KiB of workgroup memory); the 128x128 one needs all 16 KiB, more than some downlevel
/// (GLES-class) adapters give, where the 64x64 one takes over. Every tile has at least 64
/// invocations (two NVIDIA warps, one AMD wave64, two Apple SIMD groups), so workgroup counts
/// compare across tiles.
///
/// Shapes and costs of the first three were measured on lavapipe only (software Vulkan on 2
/// cores: 4.5, 4.0 and 3.0 GFLOP/s at 512 x 512 x 512, so costs 9 : 10 : 13). There 8x8
/// outputs per invocation beat 4x4 on 4x the invocations (4.0 against 3.5 GFLOP/s in 64x64
/// tiles), TK 16 beat TK 8, and TK 32 (32 KiB) was no faster than TK 16. The 64x32 and 32x64
/// tiles exist for hardware adapters (twice the workgroups of 64x64 on an output of few tiles)
/// and are not chosen on software ones.
pub(super) const TILES: [Tile; 5] = [
    Tile::new(128, 128, 16, 8, 8, 9),
    Tile::new(64, 64, 16, 8, 8, 10),
    Tile::new(64, 32, 16, 8, 4, 0),
    Tile::new(32, 64, 16, 4, 8, 0),
    Tile::new(32, 32, 16, 4, 4, 13),
];

/// Splits of K: at most this many, so the scratch and the summing stay small against the
/// product ...
const MAX_SPLITS: u32 = 64;
/// ... and each split at least this many `tk` steps, so a workgroup's partial (one store of
/// its tile) stays small against its work (`2 tk` FLOPs per output per step).
const MIN_STEPS_PER_SPLIT: u32 = 4;

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

    pub(super) fn workgroup_size(self) -> (u32, u32) {
        (self.tn / self.rn, self.tm / self.rm)
    }

    /// The two staged tiles, `[tk][tm]` and `[tk][tn]` f32.
    fn workgroup_bytes(self) -> u32 {
        self.tk * (self.tm + self.tn) * 4
    }

    pub(super) fn fits(self, limits: &wgpu::Limits) -> bool {
        let (x, y) = self.workgroup_size();
        x <= limits.max_compute_workgroup_size_x
            && y <= limits.max_compute_workgroup_size_y
            && x * y <= limits.max_compute_invocations_per_workgroup
            && self.workgroup_bytes() <= limits.max_compute_workgroup_storage_size
    }

    /// Loop trips one invocation takes per `tk` of K (on lavapipe, where they are counted): a
    /// trip of the outer loop, each staging loop's strided trips and exit, and 17 for the
    /// `tk`-deep inner loop, which Mesa does not unroll. Measured: 24 for the 32x32 and
    /// 128x128 tiles, 28 for the 64x64 one ([`k_ranges`](super::k_ranges)).
    pub(super) fn trips_per_step(self) -> usize {
        let threads = {
            let (x, y) = self.workgroup_size();
            x * y
        };
        let staging = |rows: u32| (rows * self.tk / 4).div_ceil(threads) + 1;
        (1 + staging(self.tm) + staging(self.tn) + self.tk + 1) as usize
    }

    /// Tiles over one batch entry of an `m` x `n` output.
    pub(super) fn tiles(self, m: usize, n: usize) -> (usize, usize) {
        (m.div_ceil(self.tm as usize), n.div_ceil(self.tn as usize))
    }

    /// Output elements computed, padding included.
    fn padded(self, m: usize, n: usize) -> usize {
        m.next_multiple_of(self.tm as usize) * n.next_multiple_of(self.tn as usize)
    }

    /// The relative time of an `m` x `n` output on lavapipe: elements computed, padding
    /// included, times the cost of one.
    fn time(self, m: usize, n: usize) -> usize {
        self.padded(m, n) * self.cost as usize
    }
}

/// How one matmul runs: `tile`, and K cut into `splits` ranges of `k_split` (a multiple of
/// `tile.tk`; the last range takes the rest), each summed by its own workgroups into its own
/// slice of a scratch buffer when `splits > 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) tile: Tile,
    pub(super) splits: u32,
    pub(super) k_split: u32,
}

impl Plan {
    /// `tile` with K cut into (at most) `splits` ranges of whole `tk` steps; fewer where K has
    /// fewer steps, so that no range is empty.
    pub(super) fn new(tile: Tile, k: usize, splits: u32) -> Plan {
        let steps = (k as u32).div_ceil(tile.tk).max(1);
        let per_split = steps.div_ceil(splits.clamp(1, steps));
        Plan {
            tile,
            splits: steps.div_ceil(per_split),
            k_split: per_split * tile.tk,
        }
    }

    /// Workgroups of the kernel's dispatch for `batch` entries of `m` x `n`.
    pub(super) fn workgroups(&self, batch: usize, m: usize, n: usize) -> u64 {
        let (tiles_m, tiles_n) = self.tile.tiles(m, n);
        (tiles_m * tiles_n * batch) as u64 * u64::from(self.splits)
    }
}

/// The plan for `batch` products of `m` x `n` x `k` under `limits`: on a software adapter
/// (`target` `None`) the tile of least lavapipe time, K whole; on a hardware one, by
/// occupancy against `target` workgroups (module doc). `None` when no tile fits the limits.
pub(super) fn plan(
    limits: &wgpu::Limits,
    (batch, m, n, k): (usize, usize, usize, usize),
    target: Option<u32>,
) -> Option<Plan> {
    let fitting = TILES.into_iter().filter(|t| t.fits(limits));
    let Some(target) = target else {
        let tile = fitting
            .filter(|t| t.cost > 0)
            .min_by_key(|t| t.time(m, n))?;
        return Some(Plan::new(tile, k, 1));
    };
    let target = u64::from(target.max(1));
    // The scratch of all splits must fit one storage binding.
    let out_bytes = (batch * m * n * 4).max(1) as u64;
    let memory_splits = (limits.max_storage_buffer_binding_size / out_bytes).max(1);
    let most_splits = memory_splits.min(u64::from(MAX_SPLITS)) as u32;
    let candidates: Vec<Plan> = fitting
        .map(|tile| {
            let workgroups = Plan::new(tile, k, 1).workgroups(batch, m, n);
            let steps = (k as u32).div_ceil(tile.tk).max(1);
            // Ranges of `per_split` steps, from all of K down to the shortest allowed: the
            // longest that reach the target, else the shortest (splits grow as they shrink).
            let mut chosen = Plan::new(tile, k, 1);
            for per_split in (MIN_STEPS_PER_SPLIT.min(steps)..=steps).rev() {
                let splits = steps.div_ceil(per_split);
                if splits > most_splits {
                    break;
                }
                chosen = Plan {
                    tile,
                    splits,
                    k_split: per_split * tile.tk,
                };
                if u64::from(splits) * workgroups >= target {
                    break;
                }
            }
            chosen
        })
        .collect();
    let workgroups = |p: &Plan| p.workgroups(batch, m, n);
    let padded = |p: &Plan| p.tile.padded(m, n);
    // Without splitting K where one tile gives enough: the largest such, for the most reuse
    // of each staged value.
    let unsplit = candidates
        .iter()
        .find(|p| p.splits == 1 && workgroups(p) >= target);
    // Else splitting: of the plans that reach the target, the least padding (computed for
    // nothing), then the larger tile.
    let split = || {
        candidates
            .iter()
            .filter(|p| workgroups(p) >= target)
            .min_by_key(|p| padded(p))
    };
    // Short of the target everywhere: the most workgroups, then the least padding (the
    // smaller tile computes as fast per invocation and wastes less).
    let most = || {
        candidates
            .iter()
            .rev()
            .max_by_key(|p| (workgroups(p), std::cmp::Reverse(padded(p))))
    };
    unsplit.or_else(split).or_else(most).copied()
}

/// The target workgroup count of an adapter of `device_type` (`None`: a software adapter,
/// which keeps lavapipe's choice): two per compute unit of a large GPU of that type, since
/// wgpu does not say how many units this one has. Discrete 256 (an H100 has 132 SMs, a 4090
/// 128; a smaller GPU gets more waves of the same tiles), integrated 32 (Apple M-series base
/// chips have 8-10 GPU cores, Intel Xe iGPUs 6-12 slices), anything else 64.
pub(super) fn default_target(device_type: wgpu::DeviceType) -> Option<u32> {
    match device_type {
        wgpu::DeviceType::Cpu => None,
        wgpu::DeviceType::DiscreteGpu => Some(256),
        wgpu::DeviceType::IntegratedGpu => Some(32),
        wgpu::DeviceType::VirtualGpu | wgpu::DeviceType::Other => Some(64),
    }
}

/// The target workgroup count on `device_type`: `WGFIT_MATMUL_WORKGROUPS` (read once) on a
/// hardware adapter where set to a positive number (e.g. twice the compute units of the GPU at
/// hand), else [`default_target`].
pub(super) fn target(device_type: wgpu::DeviceType) -> Option<u32> {
    static OVERRIDE: LazyLock<Option<u32>> = LazyLock::new(|| {
        std::env::var("WGFIT_MATMUL_WORKGROUPS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &u32| n > 0)
    });
    let default = default_target(device_type)?;
    Some(OVERRIDE.unwrap_or(default))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
