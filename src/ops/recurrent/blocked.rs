//! The persistent recurrent kernels' shared machinery, row-blocked: one workgroup per [`ROWS`]
//! batch rows runs a range of steps, so each recurrent-kernel element loaded per step serves
//! every row of the block. A cell's kernel (`shaders/<cell>_blocked.wgsl`,
//! `shaders/<cell>_blocked_backward.wgsl`) gets its constants (units, the split of each dot
//! product over invocations, whether the recurrent kernel is copied into workgroup memory)
//! generated per units into its WGSL source, one leaked [`Kernel`] per (kernel, units) asked
//! for (at most 2 x 256 per cell variant).
//!
//! The plan is a pure function of the units and the cell's [`Blocked`] shape (its gates and
//! the dot products each step runs), tested below against WebGPU's 16 KiB of workgroup memory
//! and 256 invocations per workgroup.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::{PERSISTENT_MAX_STEPS, Params, capped};
use crate::device::{GpuBuffer, GpuContext, Kernel};
use crate::error::Result;
use crate::ops::loop_ranges;

/// Batch rows per workgroup: one `vec4` of rows per unit, so a step's recurrent product
/// keeps gates x 4 independent accumulators per invocation (16 for an LSTM).
pub(crate) const ROWS: usize = 4;
/// WebGPU's guaranteed workgroup memory (`maxComputeWorkgroupStorageSize`).
const WORKGROUP_BYTES: usize = 16 * 1024;
/// WebGPU's guaranteed invocations per workgroup.
const MAX_INVOCATIONS: usize = 256;
/// The most invocations one unit's dot products are split over: past 8 the partial sums cost
/// more workgroup memory and adds than the shorter chains save.
const MAX_SPLIT: usize = 8;
/// The recurrent kernel is kept in workgroup memory when it takes at most this much (half of
/// it, leaving the rest to the state and the partial sums): U <= 22 for an LSTM, 26 for a
/// GRU, 45 for a SimpleRNN.
const ON_CHIP_BYTES: usize = 8 * 1024;

/// One persistent kernel of a cell: its WGSL body and entry, and the shape of its work.
#[derive(Debug)]
pub(crate) struct Blocked {
    /// The module's name before `_u{units}`, e.g. `"gru_cell_blocked"`.
    pub name: &'static str,
    /// The WGSL body (math.wgsl and recurrent.wgsl are prepended, after the constants).
    pub body: &'static str,
    pub entry: &'static str,
    /// Storage buffers a dispatch binds.
    pub bindings: usize,
    pub backward: bool,
    /// Gate columns of the recurrent kernel (`[U, G·U]`).
    pub gates: usize,
    /// The gates of each dot product a step runs, in order: an LSTM's one of 4 gates; a GRU
    /// resetting before the product runs 2 (z, r) then 1 (the candidate) forward.
    pub phases: &'static [usize],
    /// `[U]` arrays of row vectors a forward step keeps in workgroup memory (h, and a GRU's
    /// r ⊙ h_prev before the product).
    pub states: usize,
}

/// How one direction's kernel splits its work for `units` (see the WGSL headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub units: usize,
    /// Gate columns of the recurrent kernel.
    pub gates: usize,
    /// The widest dot product's gates: what the partial sums (and dz chunks) are sized for.
    pub wide: usize,
    /// Invocations per unit (S); the workgroup has units x split of them.
    pub split: usize,
    /// Backward only: gates of dz held in workgroup memory at a time (GC).
    pub gate_chunk: usize,
    /// Whether the recurrent kernel is copied into workgroup memory.
    pub on_chip: bool,
}

impl Plan {
    fn rk_bytes(units: usize, gates: usize) -> usize {
        4 * gates * units * units
    }

    /// The kernel `k`'s plan for `units` (1..=256).
    pub(crate) fn of(k: &Blocked, units: usize) -> Plan {
        let wide = k.phases.iter().copied().max().unwrap_or(1);
        if k.backward {
            Plan::backward(units, k.gates, wide)
        } else {
            Plan::forward(units, (k.gates, wide), k.states)
        }
    }

    /// The forward kernel's plan: the recurrent kernel on chip where it fits, then the widest
    /// split whose partial sums fit beside it and the `states` arrays.
    pub(crate) fn forward(units: usize, (gates, wide): (usize, usize), states: usize) -> Plan {
        let on_chip = Self::rk_bytes(units, gates) <= ON_CHIP_BYTES;
        let rk = if on_chip {
            Self::rk_bytes(units, gates)
        } else {
            4
        };
        let bytes = |s: usize| 16 * states * units + 16 * wide * ((s - 1) * units).max(1) + rk;
        let split = (1..=MAX_SPLIT.min(units).min(MAX_INVOCATIONS / units))
            .rev()
            .find(|&s| bytes(s) <= WORKGROUP_BYTES)
            .unwrap_or(1);
        Plan {
            units,
            gates,
            wide,
            split,
            gate_chunk: wide,
            on_chip,
        }
    }

    /// The backward kernel's plan: as the forward's, over dot products of `wide` x units
    /// terms, holding as many gates of dz at a time as fit.
    pub(crate) fn backward(units: usize, gates: usize, wide: usize) -> Plan {
        let on_chip = Self::rk_bytes(units, gates) <= ON_CHIP_BYTES;
        let rk = if on_chip {
            Self::rk_bytes(units, gates)
        } else {
            4
        };
        let bytes = |s: usize, gc: usize| 16 * gc * units + 16 * ((s - 1) * units).max(1) + rk;
        let chunks = [wide, wide.div_ceil(2), 1];
        let (split, gate_chunk) = (1..=MAX_SPLIT.min(MAX_INVOCATIONS / units).min(wide * units))
            .rev()
            .find_map(|s| {
                let gc = chunks
                    .into_iter()
                    .find(|&gc| bytes(s, gc) <= WORKGROUP_BYTES)?;
                Some((s, gc))
            })
            .unwrap_or((1, 1));
        Plan {
            units,
            gates,
            wide,
            split,
            gate_chunk,
            on_chip,
        }
    }

    pub(crate) fn invocations(&self) -> usize {
        self.units * self.split
    }

    /// Terms of the forward dot product per invocation (CH).
    pub(crate) fn forward_chain(&self) -> usize {
        self.units.div_ceil(self.split)
    }

    /// Terms of one dz chunk per invocation, backward (KC).
    pub(crate) fn backward_chain(&self) -> usize {
        (self.gate_chunk * self.units).div_ceil(self.split)
    }

    /// Loop trips per step of kernel `k` on a software adapter. Forward, per dot product:
    /// its chain and exit, and the partial sums' loop; backward, per dz chunk: its dot product
    /// (4 terms a trip, then up to 3 alone) and copy, and per dot product the partial sums'
    /// loop. Then a generous allowance for the rows' and gates' loops (4 trips each, unrolled
    /// there, but not counted on).
    pub(crate) fn trips_per_step(&self, k: &Blocked) -> usize {
        let per_phase = |gates: usize| {
            if k.backward {
                let chunks = gates.div_ceil(self.gate_chunk);
                chunks * (self.backward_chain() / 4 + 4 + self.gate_chunk + 3) + self.split
            } else {
                self.forward_chain() + 1 + self.split
            }
        };
        k.phases.iter().map(|&g| per_phase(g)).sum::<usize>() + 32
    }

    /// The constants and helpers every blocked WGSL file leaves to the host.
    fn prelude(&self, backward: bool) -> String {
        let (u, s) = (self.units, self.split);
        let (rk, chain) = if backward {
            ("rk_t", ("KC", self.backward_chain()))
        } else {
            ("rk", ("CH", self.forward_chain()))
        };
        let len = self.gates * u * u;
        let (rk_chip_len, at, load) = if self.on_chip {
            (
                len,
                "rk_chip[i]".to_string(),
                format!("for (var i = k; i < {len}u; i += WG) {{ rk_chip[i] = {rk}[i]; }}"),
            )
        } else {
            (1, format!("{rk}[i]"), "_ = k;".to_string())
        };
        format!(
            "const U: u32 = {u}u;\nconst S: u32 = {s}u;\nconst WG: u32 = {wg}u;\n\
             const {}: u32 = {}u;\nconst GC: u32 = {gc}u;\nconst PART_LEN: u32 = {part}u;\n\
             const RK_CHIP_LEN: u32 = {rk_chip_len}u;\n\
             fn {rk}_at(i: u32) -> f32 {{ return {at}; }}\n\
             fn load_rk_chip(k: u32) {{ {load} }}\n",
            chain.0,
            chain.1,
            wg = self.invocations(),
            gc = self.gate_chunk,
            part = ((s - 1) * u).max(1),
        )
    }
}

const MATH: &str = include_str!("../../../shaders/math.wgsl");
const RECURRENT: &str = include_str!("../../../shaders/recurrent.wgsl");

/// Kernel `k` for `units` (1..=256), built once per process.
pub(crate) fn kernel(k: &'static Blocked, units: usize) -> &'static Kernel {
    type Cache = HashMap<(&'static str, usize), &'static Kernel>;
    static KERNELS: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut kernels = KERNELS.lock().unwrap_or_else(|p| p.into_inner());
    kernels.entry((k.name, units)).or_insert_with(|| {
        let prelude = Plan::of(k, units).prelude(k.backward);
        let name = format!("{}_u{units}", k.name);
        let source = format!("{prelude}{MATH}{RECURRENT}{}", k.body);
        let entries: &'static [(&'static str, usize)] =
            Box::leak(vec![(k.entry, k.bindings)].into_boxed_slice());
        Box::leak(Box::new(Kernel {
            name: Box::leak(name.into_boxed_str()),
            source: Box::leak(source.into_boxed_str()),
            params: Params::LAYOUT,
            entries,
            // Every storage index is checked against the batch and the steps or bounded by
            // the units, and every workgroup-memory cell is written before it is read (states
            // and dz by the unit's first invocation, partial sums by their own, the on-chip
            // recurrent kernel by all, each before a barrier); the cells' cross-backend tests
            // run blocks the batch leaves part empty, on poisoned outputs.
            trusted: true,
        }))
    })
}

/// Units whose kernels the shader check builds: one of each kind of plan (recurrent kernel on
/// chip or not, split 1 to 8, every gate chunk, a units count not a multiple of anything).
pub(crate) const CHECKED_UNITS: [usize; 9] = [1, 3, 7, 22, 23, 33, 128, 129, 256];

/// Kernel `k` at each of [`CHECKED_UNITS`], for the shader check.
pub(crate) fn checked(k: &'static Blocked) -> impl Iterator<Item = &'static Kernel> {
    CHECKED_UNITS.into_iter().map(move |u| kernel(k, u))
}

/// Records kernel `k` over all T steps of a `[B, T, U]` sequence, bound to `buffers`: one
/// dispatch per range of steps the adapter's loop budget allows (one on a hardware GPU, cut
/// at [`PERSISTENT_MAX_STEPS`]), in order forward, last range first backward, each carrying
/// on from the state the one before left. `params` gives the uniform of steps `t0..t1`.
pub(crate) fn dispatch(
    ctx: &GpuContext,
    k: &'static Blocked,
    buffers: &[&GpuBuffer],
    params: impl Fn(u32, u32) -> Params,
    (b, t, u): (usize, usize, usize),
) -> Result<()> {
    if t == 0 {
        // No steps: nothing to write, and the running gradients stay as they came.
        return Ok(());
    }
    let per_step = Plan::of(k, u).trips_per_step(k);
    let budget = loop_ranges(ctx, t, |trips| trips / per_step);
    let mut ranges = capped(budget, PERSISTENT_MAX_STEPS);
    if k.backward {
        ranges.reverse();
    }
    let kernel = kernel(k, u);
    for (t0, t1) in ranges {
        let p = params(t0, t1);
        let blocks = b.div_ceil(ROWS) as u64;
        ctx.dispatch(kernel, k.entry, buffers, bytemuck::bytes_of(&p), blocks)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workgroup_bytes(plan: &Plan, backward: bool, states: usize) -> usize {
        let (u, g) = (plan.units, plan.gates);
        let part = ((plan.split - 1) * u).max(1);
        let rk = if plan.on_chip { 4 * g * u * u } else { 4 };
        if backward {
            16 * plan.gate_chunk * u + 16 * part + rk
        } else {
            16 * states * u + 16 * plan.wide * part + rk
        }
    }

    #[test]
    fn every_plan_fits_webgpus_limits_and_splits_small_units_widest() {
        // (gates, widest product, states): LSTM, GRU reset after, GRU before, SimpleRNN
        for (gates, wide, states) in [(4, 4, 1), (3, 3, 1), (3, 2, 2), (1, 1, 1)] {
            for u in 1..=256 {
                for (plan, backward) in [
                    (Plan::forward(u, (gates, wide), states), false),
                    (Plan::backward(u, gates, wide), true),
                ] {
                    assert!(plan.invocations() <= MAX_INVOCATIONS, "{plan:?}");
                    assert!(
                        workgroup_bytes(&plan, backward, states) <= WORKGROUP_BYTES,
                        "{plan:?}"
                    );
                    assert!((1..=MAX_SPLIT).contains(&plan.split), "{plan:?}");
                    assert!(plan.gate_chunk >= 1 && plan.gate_chunk <= wide, "{plan:?}");
                    // the copy of an on-chip recurrent kernel fits the software loop reserve
                    if plan.on_chip {
                        assert!(gates * u * u / plan.invocations() < 512, "{plan:?}");
                    }
                }
            }
        }
        let f = |u| Plan::forward(u, (4, 4), 1);
        let b = |u| Plan::backward(u, 4, 4);
        assert_eq!(
            (f(1).split, f(7).split, f(32).split, f(64).split),
            (1, 7, 8, 4)
        );
        assert!(f(22).on_chip && !f(23).on_chip && b(22).on_chip);
        assert_eq!((f(128).split, f(256).split), (2, 1));
        assert_eq!((b(128).split, b(128).gate_chunk), (2, 4));
        assert_eq!((b(256).split, b(256).gate_chunk), (1, 2));
        // Per step at U = 128, each forward invocation walks 64 of rk's rows, and each
        // backward one 256 terms (in 64 rounds of four), against 128 and 512 in one chain for
        // the kernels these replace.
        assert_eq!((f(128).forward_chain(), b(128).backward_chain()), (64, 256));
        // A GRU's recurrent kernel stays on chip to 26 units, a SimpleRNN's to 45.
        let on_chip = |gates, u| Plan::forward(u, (gates, gates), 1).on_chip;
        assert!(on_chip(3, 26) && !on_chip(3, 27) && on_chip(1, 45) && !on_chip(1, 46));
    }
}
