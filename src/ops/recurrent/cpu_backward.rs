//! Backpropagation through time on the CPU for every recurrent cell (`cpu.rs` runs the
//! forward pass): per step, the recurrent GEMM's gradient `dh = dhz · rkᵀ` over the rows
//! unmasked at that step, around the cell's own elementwise backward ([`CpuCell::backward`]);
//! batch rows split over threads as in the forward pass.

use ndarray::ArrayView2;

use super::cpu::{CpuCell, GradIn, GradOut, Rk, rows_per_thread};
use super::dropped::by_row;
use crate::device::FlushDenormals;
use crate::device::cpu_pool::overwritten;

/// The forward pass's states, as the backward pass reads them (`rdrop`: `[G, B, U]`, the
/// recurrent dropout masks it ran with).
pub(crate) struct Saved<'a> {
    pub gates: &'a [f32],
    pub aux: &'a [f32],
    pub hprev: &'a [f32],
    pub rdrop: Option<&'a [f32]>,
}

/// What backpropagation through time gives: `dz: [B, T, G·U]` (the gradient of xp), and the
/// gradients of the state before step 0 (the initial state's), `dh0` and `daux0: [B, U]`.
pub(crate) type CpuGrads = (Vec<f32>, Vec<f32>, Vec<f32>);

/// Backpropagation through time for `cell` from the saved states, `dh: [B, U]` (the gradient
/// of the last h), `carry` `[B, U]` (that of the last auxiliary state, an LSTM's c; `None`:
/// zeros) and `dy: [B, T, U]` (a sequence output's gradient); `aux0: [B, U]` is the
/// auxiliary state before step 0 (`None`: zeros).
pub(crate) fn backward<C: CpuCell>(
    cell: &C,
    saved: Saved<'_>,
    rk: &[f32],
    (mask, aux0): (Option<&[f32]>, Option<&[f32]>),
    (mut dh, carry): (Vec<f32>, Option<&[f32]>),
    dy: Option<&[f32]>,
    (b, t, u): (usize, usize, usize),
) -> CpuGrads {
    let g = C::GATES * u;
    // every row is written below (a masked step's as zeros): no zeroing pass here
    let mut dz = overwritten(b * t * g);
    // the cell's running gradient (an LSTM's dc), from zero at the last step
    let mut carry = carry.map_or_else(|| vec![0.0f32; b * u], <[f32]>::to_vec);
    if b * t * u == 0 {
        return (dz, dh, carry);
    }
    let rk = ArrayView2::from_shape((u, g), rk).expect("rk is [U, G·U]");
    let rk_t = &Rk::new(rk, C::GATES, saved.rdrop.is_some(), true);
    let rdrop = saved.rdrop.map(|r| by_row(r, (C::GATES, b, u)));
    let rows = rows_per_thread(b, t, u);
    std::thread::scope(|scope| {
        let chunks = dh
            .chunks_mut(rows * u)
            .zip(carry.chunks_mut(rows * u))
            .zip(dz.chunks_mut(rows * t * g))
            .enumerate();
        for (k, ((dh, carry), dz)) in chunks {
            let rows_of = |len: usize| k * rows * len..((k + 1) * rows).min(b) * len;
            let saved = Saved {
                gates: &saved.gates[rows_of(t * g)],
                aux: &saved.aux[rows_of(t * u)],
                hprev: &saved.hprev[rows_of(t * u)],
                rdrop: rdrop.as_ref().map(|r| &r[rows_of(g)]),
            };
            let mask = mask.map(|m| &m[rows_of(t)]);
            let aux0 = aux0.map(|a| &a[rows_of(u)]);
            let dy = dy.map(|d| &d[rows_of(t * u)]);
            let b = dh.len() / u.max(1);
            scope.spawn(move || {
                let _flush = FlushDenormals::new();
                let grads = (dh, carry, dy, dz);
                backward_rows(cell, saved, rk_t, (mask, aux0), grads, (b, t, u))
            });
        }
    });
    // after step 0, dh and carry hold the gradients of the state before it
    (dz, dh, carry)
}

type RowsGrad<'a> = (
    &'a mut [f32],
    &'a mut [f32],
    Option<&'a [f32]>,
    &'a mut [f32],
);

/// Backpropagation through time for `b` batch rows (a contiguous block of the batch); as in
/// the forward pass, each step's GEMM covers the unmasked rows only. Step 0's GEMM gives the
/// gradient of h0, the initial state (discarded where that is zero).
fn backward_rows<C: CpuCell>(
    cell: &C,
    saved: Saved<'_>,
    rk_t: &Rk,
    (mask, aux0): (Option<&[f32]>, Option<&[f32]>),
    (dh, carry, dy, dz): RowsGrad<'_>,
    (b, t, u): (usize, usize, usize),
) {
    let g = C::GATES * u;
    let mut dhz = vec![0.0f32; if C::DHZ_IS_DZ { 0 } else { b * g }];
    let mut dz_active = vec![0.0f32; b * g];
    let mut dh_active = vec![0.0f32; b * u];
    let mut active = Vec::with_capacity(b);
    let zeros = vec![0.0f32; u];
    for step in (0..t).rev() {
        active.clear();
        for bi in 0..b {
            let bt = bi * t + step;
            let dh = &mut dh[bi * u..(bi + 1) * u];
            if let Some(dy) = dy {
                for (d, &y) in dh.iter_mut().zip(&dy[bt * u..(bt + 1) * u]) {
                    *d += y;
                }
            }
            if mask.is_some_and(|m| m[bt] == 0.0) {
                dz[bt * g..(bt + 1) * g].fill(0.0);
                continue;
            }
            active.push(bi);
            let aux_prev = match (step, aux0) {
                (0, Some(a)) => &a[bi * u..(bi + 1) * u],
                (0, None) => &zeros[..],
                _ => &saved.aux[(bt - 1) * u..bt * u],
            };
            let s = GradIn {
                gates: &saved.gates[bt * g..(bt + 1) * g],
                aux_prev,
                aux: &saved.aux[bt * u..(bt + 1) * u],
                h_prev: &saved.hprev[bt * u..(bt + 1) * u],
                rdrop: saved.rdrop.map(|r| &r[bi * g..(bi + 1) * g]),
            };
            let dhz = if C::DHZ_IS_DZ {
                &mut [][..]
            } else {
                &mut dhz[bi * g..(bi + 1) * g]
            };
            let out = GradOut {
                dh,
                carry: &mut carry[bi * u..(bi + 1) * u],
                dz: &mut dz[bt * g..(bt + 1) * g],
                dhz,
            };
            cell.backward(s, out);
        }
        // dh_{t-1} (+)= dhz_t · rkᵀ for the rows this step updated (Σ_g (dhz_g · rk_gᵀ) ⊙ r_g
        // under recurrent dropout); masked rows carry dh through
        let na = active.len();
        let (src, ld): (&[f32], usize) = if C::DHZ_IS_DZ {
            (&dz[step * g..], t * g)
        } else {
            (&dhz, g)
        };
        let rk_t = match rk_t {
            Rk::Whole(rk_t) => rk_t,
            Rk::PerGate(per_gate) => {
                let r = saved.rdrop.expect("per-gate packing comes with the masks");
                let tmp = (&mut dz_active[..], &mut dh_active[..]);
                per_gate.grad(&active, (src, ld), r, tmp, dh, C::DIRECT);
                continue;
            }
        };
        if na == b {
            rk_t.gemm((src, ld), b, (dh, u), C::DIRECT);
        } else if na > 0 {
            for (j, &bi) in active.iter().enumerate() {
                dz_active[j * g..(j + 1) * g].copy_from_slice(&src[bi * ld..bi * ld + g]);
                if C::DIRECT {
                    dh_active[j * u..(j + 1) * u].copy_from_slice(&dh[bi * u..(bi + 1) * u]);
                }
            }
            rk_t.gemm((&dz_active, g), na, (&mut dh_active, u), C::DIRECT);
            for (j, &bi) in active.iter().enumerate() {
                dh[bi * u..(bi + 1) * u].copy_from_slice(&dh_active[j * u..(j + 1) * u]);
            }
        }
    }
}
