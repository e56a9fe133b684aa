//! The persistent recurrent kernels, row-blocked (`shaders/lstm_cell_blocked.wgsl`,
//! `shaders/lstm_cell_blocked_backward.wgsl`): one workgroup per [`ROWS`] batch rows runs a
//! range of steps, so each recurrent-kernel element loaded per step serves every row of the
//! block. Their constants (units, the split of each dot product over invocations, whether the
//! recurrent kernel is copied into workgroup memory) are generated per units into the WGSL
//! source, one leaked [`Kernel`] per units asked for (at most 2 x 256 of them).
//!
//! The plan is a pure function of the units and the gate count (4 for an LSTM; a GRU's 3 is
//! what `gates` is for), tested below against WebGPU's 16 KiB of workgroup memory and 256
//! invocations per workgroup.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::Params;
use crate::device::Kernel;

/// Batch rows per workgroup: one `vec4` of rows per unit, so a step's recurrent product
/// keeps gates x 4 independent accumulators per invocation (16 for an LSTM).
pub(super) const ROWS: usize = 4;
/// WebGPU's guaranteed workgroup memory (`maxComputeWorkgroupStorageSize`).
const WORKGROUP_BYTES: usize = 16 * 1024;
/// WebGPU's guaranteed invocations per workgroup.
const MAX_INVOCATIONS: usize = 256;
/// The most invocations one unit's dot products are split over: past 8 the partial sums cost
/// more workgroup memory and adds than the shorter chains save.
const MAX_SPLIT: usize = 8;
/// The recurrent kernel is kept in workgroup memory when it takes at most this much (half of
/// it, leaving the rest to the state and the partial sums): U <= 22 for an LSTM.
const ON_CHIP_BYTES: usize = 8 * 1024;

/// How one direction's kernel splits its work for `units` (see the WGSL headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    pub units: usize,
    pub gates: usize,
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

    /// The forward kernel's plan: the recurrent kernel on chip where it fits, then the widest
    /// split whose partial sums fit beside it. `units` in 1..=256.
    pub(super) fn forward(units: usize, gates: usize) -> Plan {
        let on_chip = Self::rk_bytes(units, gates) <= ON_CHIP_BYTES;
        let rk = if on_chip {
            Self::rk_bytes(units, gates)
        } else {
            4
        };
        let bytes = |s: usize| 16 * units + 16 * gates * ((s - 1) * units).max(1) + rk;
        let split = (1..=MAX_SPLIT.min(units).min(MAX_INVOCATIONS / units))
            .rev()
            .find(|&s| bytes(s) <= WORKGROUP_BYTES)
            .unwrap_or(1);
        Plan {
            units,
            gates,
            split,
            gate_chunk: gates,
            on_chip,
        }
    }

    /// The backward kernel's plan: as the forward's, over dot products of gates x units terms,
    /// holding as many gates of dz at a time as fit.
    pub(super) fn backward(units: usize, gates: usize) -> Plan {
        let on_chip = Self::rk_bytes(units, gates) <= ON_CHIP_BYTES;
        let rk = if on_chip {
            Self::rk_bytes(units, gates)
        } else {
            4
        };
        let bytes = |s: usize, gc: usize| 16 * gc * units + 16 * ((s - 1) * units).max(1) + rk;
        let chunks = [gates, gates.div_ceil(2), 1];
        let (split, gate_chunk) = (1..=MAX_SPLIT.min(MAX_INVOCATIONS / units).min(gates * units))
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
            split,
            gate_chunk,
            on_chip,
        }
    }

    pub(super) fn invocations(&self) -> usize {
        self.units * self.split
    }

    /// Terms of the forward dot product per invocation (CH).
    fn forward_chain(&self) -> usize {
        self.units.div_ceil(self.split)
    }

    /// Terms of one dz chunk per invocation, backward (KC).
    fn backward_chain(&self) -> usize {
        (self.gate_chunk * self.units).div_ceil(self.split)
    }

    /// Loop trips per step of the forward kernel on a software adapter: the dot product and
    /// its exit, the partial sums' loop, and a generous allowance for the rows' and gates'
    /// loops (4 trips each, unrolled there, but not counted on).
    pub(super) fn forward_trips_per_step(&self) -> usize {
        self.forward_chain() + 1 + self.split + 32
    }

    /// Loop trips per step of the backward kernel on a software adapter: per dz chunk its
    /// dot product (4 terms a trip, then up to 3 alone) and copy, the partial sums' loop, the
    /// chunk and step loops and the same allowance for the rows' loops.
    pub(super) fn backward_trips_per_step(&self) -> usize {
        let chunks = self.gates.div_ceil(self.gate_chunk);
        chunks * (self.backward_chain() / 4 + 4 + self.gate_chunk + 3) + self.split + 32
    }

    /// The constants and helpers both WGSL files leave to the host.
    fn prelude(&self, chain: (&str, usize), rk: &str) -> String {
        let (u, s) = (self.units, self.split);
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
const FORWARD_BODY: &str = include_str!("../../../shaders/lstm_cell_blocked.wgsl");
const BACKWARD_BODY: &str = include_str!("../../../shaders/lstm_cell_blocked_backward.wgsl");

/// The forward kernel for `units` (1..=256), entry `lstm_forward_blocked`.
pub(super) fn forward_kernel(units: usize) -> &'static Kernel {
    kernel(units, false)
}

/// The backward kernel for `units` (1..=256), entry `lstm_backward_blocked`.
pub(super) fn backward_kernel(units: usize) -> &'static Kernel {
    kernel(units, true)
}

fn kernel(units: usize, backward: bool) -> &'static Kernel {
    static KERNELS: LazyLock<Mutex<HashMap<(usize, bool), &'static Kernel>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut kernels = KERNELS.lock().unwrap_or_else(|p| p.into_inner());
    kernels.entry((units, backward)).or_insert_with(|| {
        let (name, source, entries): (String, String, &'static [(&'static str, usize)]) =
            if backward {
                let plan = Plan::backward(units, 4);
                let prelude = plan.prelude(("KC", plan.backward_chain()), "rk_t");
                (
                    format!("lstm_cell_blocked_backward_u{units}"),
                    format!("{prelude}{MATH}{RECURRENT}{BACKWARD_BODY}"),
                    &[("lstm_backward_blocked", 8)],
                )
            } else {
                let plan = Plan::forward(units, 4);
                let prelude = plan.prelude(("CH", plan.forward_chain()), "rk");
                (
                    format!("lstm_cell_blocked_u{units}"),
                    format!("{prelude}{MATH}{RECURRENT}{FORWARD_BODY}"),
                    &[("lstm_forward_blocked", 7)],
                )
            };
        Box::leak(Box::new(Kernel {
            name: Box::leak(name.into_boxed_str()),
            source: Box::leak(source.into_boxed_str()),
            params: Params::LAYOUT,
            entries,
            // Every storage index is checked against the batch and the steps or bounded by
            // the units, and every workgroup-memory cell is written before it is read (h and
            // dz by the unit's first invocation, partial sums by their own, the on-chip
            // recurrent kernel by all, each before a barrier); tests/ops_lstm_cell.rs runs
            // blocks the batch leaves part empty, on poisoned outputs.
            trusted: true,
        }))
    })
}

/// Units whose kernels the shader check builds: one of each kind of plan (recurrent kernel on
/// chip or not, split 1 to 8, every gate chunk, a units count not a multiple of anything).
pub(super) const CHECKED_UNITS: [usize; 9] = [1, 3, 7, 22, 23, 33, 128, 129, 256];

#[cfg(test)]
mod tests {
    use super::*;

    fn workgroup_bytes(plan: &Plan, backward: bool) -> usize {
        let (u, g) = (plan.units, plan.gates);
        let part = ((plan.split - 1) * u).max(1);
        let rk = if plan.on_chip { 4 * g * u * u } else { 4 };
        if backward {
            16 * plan.gate_chunk * u + 16 * part + rk
        } else {
            16 * u + 16 * g * part + rk
        }
    }

    #[test]
    fn every_plan_fits_webgpus_limits_and_splits_small_units_widest() {
        for gates in [3, 4] {
            for u in 1..=256 {
                for (plan, backward) in [
                    (Plan::forward(u, gates), false),
                    (Plan::backward(u, gates), true),
                ] {
                    assert!(plan.invocations() <= MAX_INVOCATIONS, "{plan:?}");
                    assert!(
                        workgroup_bytes(&plan, backward) <= WORKGROUP_BYTES,
                        "{plan:?}"
                    );
                    assert!((1..=MAX_SPLIT).contains(&plan.split), "{plan:?}");
                    assert!(plan.gate_chunk >= 1 && plan.gate_chunk <= gates, "{plan:?}");
                    // the copy of an on-chip recurrent kernel fits the software loop reserve
                    if plan.on_chip {
                        assert!(gates * u * u / plan.invocations() < 512, "{plan:?}");
                    }
                }
            }
        }
        let f = |u| Plan::forward(u, 4);
        let b = |u| Plan::backward(u, 4);
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
    }
}
