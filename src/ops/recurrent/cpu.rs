//! The CPU driver of every recurrent cell: the time loop, the mask, the threads and each step's
//! recurrent GEMM, around one [`CpuCell`] that does one batch row of one step. Per step, the
//! recurrent product of every active batch row is one GEMM (`h_prev · rk`, against the
//! recurrent kernel packed once per sequence: `gemm.rs`), then the cell runs elementwise as in
//! the WGSL; backward mirrors it (`dh = dhz · rkᵀ`, in `cpu_backward.rs`). A masked row only carries its state, so
//! a padded step costs a copy, not a GEMM row: masking makes a step cheaper, never dearer.

use ndarray::ArrayView2;

pub(crate) use super::cpu_backward::{Saved, backward};
use super::dropped::{PerGate, by_row};
use super::gemm::Packed;
use crate::device::FlushDenormals;
use crate::device::cpu_pool::overwritten;

/// One batch row of one step forward. Slices: `xp` `[G·U]` (the input projection with its
/// bias), `hz` `[G·U]` (`h_prev · rk`, each gate's from its dropped h_prev under recurrent
/// dropout; `None` at step 0, where h_prev is zero), `h_prev` and `aux_prev` `[U]` (the step
/// before's h, undropped, and auxiliary state; zeros at step 0), `rdrop` `[G·U]` (the row's
/// recurrent dropout masks, gate by gate).
pub(crate) struct StepIn<'a> {
    pub xp: &'a [f32],
    pub hz: Option<&'a [f32]>,
    pub h_prev: &'a [f32],
    pub aux_prev: &'a [f32],
    pub rdrop: Option<&'a [f32]>,
}

/// What a step writes: the activated `gates` `[G·U]`, the auxiliary state `aux` and `h` `[U]`.
pub(crate) struct StepOut<'a> {
    pub gates: &'a mut [f32],
    pub aux: &'a mut [f32],
    pub h: &'a mut [f32],
}

/// One batch row of one step backward: the forward's `gates`, `aux_prev`, `aux`, `h_prev`
/// and `rdrop` (as in [`StepIn`]).
pub(crate) struct GradIn<'a> {
    pub gates: &'a [f32],
    pub aux_prev: &'a [f32],
    pub aux: &'a [f32],
    pub h_prev: &'a [f32],
    pub rdrop: Option<&'a [f32]>,
}

/// What a step backward writes. `dh` `[U]` comes in as the gradient of this step's h and, for
/// a cell with [`CpuCell::DIRECT`], leaves as the part of h_prev's gradient that does not go
/// through the driver's GEMM (which adds the rest, each gate's times its mask). `carry` `[U]`
/// is the cell's own running gradient (an LSTM's dc). `dz` `[G·U]`: the gradient of xp;
/// `dhz` `[G·U]`: that of `h_prev · rk` (unused where [`CpuCell::DHZ_IS_DZ`]).
pub(crate) struct GradOut<'a> {
    pub dh: &'a mut [f32],
    pub carry: &'a mut [f32],
    pub dz: &'a mut [f32],
    pub dhz: &'a mut [f32],
}

/// One kind of recurrent cell on the CPU (the WGSL twins are its kernels).
pub(crate) trait CpuCell: Sync {
    /// Gate columns per unit: xp and gates are `[B, T, G·U]`, the recurrent kernel `[U, G·U]`.
    const GATES: usize;
    /// The gradient of `h_prev · rk` is dz itself (an LSTM), so no separate dhz is kept.
    const DHZ_IS_DZ: bool;
    /// h_prev also reaches h without the recurrent kernel (a GRU's `z · h_prev`): the cell
    /// leaves that part in dh and the GEMM adds to it.
    const DIRECT: bool;
    fn forward(&self, s: StepIn<'_>, out: StepOut<'_>);
    fn backward(&self, s: GradIn<'_>, out: GradOut<'_>);
}

/// The state before step 0 (Keras's `initial_state`), `[B, U]` each: `h` and the cell's
/// auxiliary state (an LSTM's c); `None`: zeros.
#[derive(Clone, Copy, Default)]
pub(crate) struct Init<'a> {
    pub h: Option<&'a [f32]>,
    pub aux: Option<&'a [f32]>,
}

impl<'a> Init<'a> {
    /// The rows `rows` (a block of the batch) of each state of `u` units.
    fn rows(self, rows: std::ops::Range<usize>, u: usize) -> Init<'a> {
        let r = |s: &'a [f32]| &s[rows.start * u..rows.end * u];
        Init {
            h: self.h.map(r),
            aux: self.aux.map(r),
        }
    }
}

/// `hseq, aux: [B, T, U]`, `gates: [B, T, G·U]` (activated), `hprev: [B, T, U]`.
pub(crate) type CpuStates = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// Batch rows per thread: the rows are independent recurrences, so each thread runs whole
/// sequences for its rows (no synchronisation per step). Below about 2^16 cell-steps a thread
/// costs more than it saves, so small problems stay on one.
pub(super) fn rows_per_thread(b: usize, t: usize, u: usize) -> usize {
    let threads = crate::ops::cpu_gemm::cores();
    if b * t * u < 1 << 16 || threads == 1 {
        b.max(1)
    } else {
        b.div_ceil(threads).max(1)
    }
}

/// The recurrent kernel as each step's GEMM reads it: whole, or gate by gate under recurrent
/// dropout (each gate multiplies its own dropped h_prev).
pub(super) enum Rk {
    Whole(Packed),
    PerGate(PerGate),
}

impl Rk {
    pub(super) fn new(rk: ArrayView2<'_, f32>, gates: usize, dropped: bool, backward: bool) -> Rk {
        match (dropped, backward) {
            (false, false) => Rk::Whole(Packed::new(rk)),
            (false, true) => Rk::Whole(Packed::new(rk.reversed_axes())),
            (true, false) => Rk::PerGate(PerGate::forward(rk, gates)),
            (true, true) => Rk::PerGate(PerGate::backward(rk, gates)),
        }
    }
}

/// The forward pass of `cell` from the state `init`. `xp: [B, T, G·U]`, `rk: [U, G·U]`,
/// `mask: [B, T]`, `rdrop: [G, B, U]` (recurrent dropout masks).
pub(crate) fn forward<C: CpuCell>(
    cell: &C,
    xp: &[f32],
    rk: &[f32],
    (mask, init, rdrop): (Option<&[f32]>, Init<'_>, Option<&[f32]>),
    (b, t, u): (usize, usize, usize),
) -> CpuStates {
    let g = C::GATES * u;
    // every element is written below (a masked step's gates as zeros): no zeroing pass here
    let (mut hseq, mut aux) = (overwritten(b * t * u), overwritten(b * t * u));
    let (mut gates, mut hprev) = (overwritten(b * t * g), overwritten(b * t * u));
    if b * t * u == 0 {
        return (hseq, aux, gates, hprev);
    }
    let rk = ArrayView2::from_shape((u, g), rk).expect("rk is [U, G·U]");
    let rk = &Rk::new(rk, C::GATES, rdrop.is_some(), false);
    let rdrop = rdrop.map(|r| by_row(r, (C::GATES, b, u)));
    let rows = rows_per_thread(b, t, u);
    std::thread::scope(|scope| {
        let chunks = xp
            .chunks(rows * t * g)
            .zip(hseq.chunks_mut(rows * t * u))
            .zip(aux.chunks_mut(rows * t * u))
            .zip(gates.chunks_mut(rows * t * g))
            .zip(hprev.chunks_mut(rows * t * u))
            .enumerate();
        for (k, ((((xp, hseq), aux), gates), hprev)) in chunks {
            let block = k * rows..((k + 1) * rows).min(b);
            let mask = mask.map(|m| &m[block.start * t..block.end * t]);
            let rdrop = rdrop.as_ref().map(|r| &r[block.start * g..block.end * g]);
            let init = init.rows(block, u);
            let b = hseq.len() / (t * u).max(1);
            let out = (hseq, aux, gates, hprev);
            scope.spawn(move || {
                let _flush = FlushDenormals::new();
                forward_rows(cell, xp, rk, (mask, init, rdrop), out, (b, t, u))
            });
        }
    });
    (hseq, aux, gates, hprev)
}

type RowsOut<'a> = (&'a mut [f32], &'a mut [f32], &'a mut [f32], &'a mut [f32]);

/// The forward pass for `b` batch rows (a contiguous block of the batch). Each step's
/// recurrent GEMM covers the unmasked rows only: when some are masked (or their h_prev is
/// dropped per gate) they are gathered into a compact block first.
fn forward_rows<C: CpuCell>(
    cell: &C,
    xp: &[f32],
    rk: &Rk,
    (mask, init, rdrop): (Option<&[f32]>, Init<'_>, Option<&[f32]>),
    (hseq, aux, gates, hprev): RowsOut<'_>,
    (b, t, u): (usize, usize, usize),
) {
    let g = C::GATES * u;
    let mut z = vec![0.0f32; b * g];
    let mut h_active = vec![0.0f32; b * u];
    let mut active = Vec::with_capacity(b);
    let zeros = vec![0.0f32; u];
    // h_{t-1} · rk at step 0 too when the state starts from a given h0
    let product = |step: usize| step > 0 || init.h.is_some();
    for step in 0..t {
        active.clear();
        active.extend((0..b).filter(|&bi| !mask.is_some_and(|m| m[bi * t + step] == 0.0)));
        let na = active.len();
        // z = h_{t-1} · rk over the active rows (xp_t is added by the cell): one GEMM, or one
        // per gate under recurrent dropout
        if product(step) && na > 0 {
            let hs: &[f32] = hseq;
            let h_prev = |bi: usize| match (step, init.h) {
                (0, Some(h0)) => &h0[bi * u..(bi + 1) * u],
                _ => &hs[(bi * t + step - 1) * u..(bi * t + step) * u],
            };
            match rk {
                Rk::PerGate(per_gate) => {
                    let r = rdrop.expect("per-gate packing comes with the masks");
                    per_gate.product(&active, h_prev, r, &mut h_active, &mut z);
                }
                // every row: h_{t-1} is read in place, rows t·U apart
                Rk::Whole(rk) if step > 0 && na == b => {
                    rk.gemm((&hs[(step - 1) * u..], t * u), b, (&mut z, g), false);
                }
                Rk::Whole(rk) => {
                    for (j, &bi) in active.iter().enumerate() {
                        h_active[j * u..(j + 1) * u].copy_from_slice(h_prev(bi));
                    }
                    rk.gemm((&h_active, u), na, (&mut z, g), false);
                }
            }
        }
        let mut next = active.iter().enumerate().peekable();
        for bi in 0..b {
            let bt = bi * t + step;
            let (hs_done, hs_now) = hseq.split_at_mut(bt * u);
            let (aux_done, aux_now) = aux.split_at_mut(bt * u);
            let (h_prev, aux_prev) = if step > 0 {
                (&hs_done[(bt - 1) * u..], &aux_done[(bt - 1) * u..])
            } else {
                let h = init.h.map_or(&zeros[..], |s| &s[bi * u..]);
                (h, init.aux.map_or(&zeros[..], |s| &s[bi * u..]))
            };
            let (h_prev, aux_prev) = (&h_prev[..u], &aux_prev[..u]);
            hprev[bt * u..(bt + 1) * u].copy_from_slice(h_prev);
            let (h, a) = (&mut hs_now[..u], &mut aux_now[..u]);
            match next.next_if(|&(_, &a)| a == bi) {
                Some((j, _)) => {
                    let s = StepIn {
                        xp: &xp[bt * g..(bt + 1) * g],
                        hz: product(step).then(|| &z[j * g..(j + 1) * g]),
                        h_prev,
                        aux_prev,
                        rdrop: rdrop.map(|r| &r[bi * g..(bi + 1) * g]),
                    };
                    let gates = &mut gates[bt * g..(bt + 1) * g];
                    cell.forward(s, StepOut { gates, aux: a, h });
                }
                // a masked step carries h and its auxiliary state through; its gates are zeros
                None => {
                    h.copy_from_slice(h_prev);
                    a.copy_from_slice(aux_prev);
                    gates[bt * g..(bt + 1) * g].fill(0.0);
                }
            }
        }
    }
}
