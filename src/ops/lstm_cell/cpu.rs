//! CPU twins of the LSTM cell kernels. Per step, the recurrent product of every batch row is one
//! GEMM (`h_prev · rk`, against the recurrent kernel packed once per sequence: `gemm.rs`), then the gates run elementwise as in the
//! WGSL; backward mirrors it (`dh = dz · rkᵀ`). A masked row only carries its state, so a
//! padded step costs a copy, not a GEMM row: masking makes a step cheaper, never dearer.

use ndarray::ArrayView2;

use super::cell::{cell_backward, cell_forward};
use super::gemm::Packed;
use crate::device::FlushDenormals;
use crate::device::cpu_pool::overwritten;

/// `hseq, cseq: [B, T, U]`, `gates: [B, T, 4U]` (activated i, f, g, o), `hprev: [B, T, U]`.
pub(super) type CpuStates = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// Batch rows per thread: the rows of an LSTM are independent recurrences, so each thread runs
/// whole sequences for its rows (no synchronisation per step). Below about 2^16 cell-steps a
/// thread costs more than it saves, so small problems stay on one.
fn rows_per_thread(b: usize, t: usize, u: usize) -> usize {
    let threads = crate::ops::cpu_gemm::cores();
    if b * t * u < 1 << 16 || threads == 1 {
        b.max(1)
    } else {
        b.div_ceil(threads).max(1)
    }
}

/// CPU twin of the forward pass. `xp: [B, T, 4U]` (input projection + bias), `rk: [U, 4U]`,
/// `mask: [B, T]`.
pub(super) fn lstm_forward_cpu(
    xp: &[f32],
    rk: &[f32],
    mask: Option<&[f32]>,
    b: usize,
    t: usize,
    u: usize,
) -> CpuStates {
    let g4 = 4 * u;
    // every element is written below (a masked step's gates as zeros): no zeroing pass here
    let (mut hseq, mut cseq) = (overwritten(b * t * u), overwritten(b * t * u));
    let (mut gates, mut hprev) = (overwritten(b * t * g4), overwritten(b * t * u));
    if b * t * u == 0 {
        return (hseq, cseq, gates, hprev);
    }
    let rk = &Packed::new(ArrayView2::from_shape((u, g4), rk).expect("rk is [U, 4U]"));
    let rows = rows_per_thread(b, t, u);
    std::thread::scope(|scope| {
        let chunks = xp
            .chunks(rows * t * g4)
            .zip(hseq.chunks_mut(rows * t * u))
            .zip(cseq.chunks_mut(rows * t * u))
            .zip(gates.chunks_mut(rows * t * g4))
            .zip(hprev.chunks_mut(rows * t * u))
            .enumerate();
        for (k, ((((xp, hseq), cseq), gates), hprev)) in chunks {
            let mask = mask.map(|m| &m[k * rows * t..((k + 1) * rows).min(b) * t]);
            let b = hseq.len() / (t * u).max(1);
            let out = (hseq, cseq, gates, hprev);
            scope.spawn(move || {
                let _flush = FlushDenormals::new();
                forward_rows(xp, rk, mask, out, (b, t, u))
            });
        }
    });
    (hseq, cseq, gates, hprev)
}

type RowsOut<'a> = (&'a mut [f32], &'a mut [f32], &'a mut [f32], &'a mut [f32]);

/// The forward pass for `b` batch rows (a contiguous block of the batch). Each step's
/// recurrent GEMM covers the unmasked rows only: when some are masked they are gathered into
/// a compact block first, so a padded step costs a copy of its state, not a GEMM row.
fn forward_rows(
    xp: &[f32],
    rk: &Packed,
    mask: Option<&[f32]>,
    (hseq, cseq, gates, hprev): RowsOut<'_>,
    (b, t, u): (usize, usize, usize),
) {
    let g4 = 4 * u;
    let mut z = vec![0.0f32; b * g4];
    let mut h_active = vec![0.0f32; b * u];
    let mut active = Vec::with_capacity(b);
    let zeros = vec![0.0f32; u];
    for step in 0..t {
        active.clear();
        active.extend((0..b).filter(|&bi| !mask.is_some_and(|m| m[bi * t + step] == 0.0)));
        let na = active.len();
        // z = h_{t-1} · rk over the active rows, in one GEMM (xp_t is added with the gates)
        if step > 0 && na == b {
            // every row: h_{t-1} is read in place, rows t·U apart
            rk.gemm((&hseq[(step - 1) * u..], t * u), b, (&mut z, g4), false);
        } else if step > 0 && na > 0 {
            for (j, &bi) in active.iter().enumerate() {
                let row = (bi * t + step - 1) * u;
                h_active[j * u..(j + 1) * u].copy_from_slice(&hseq[row..row + u]);
            }
            rk.gemm((&h_active, u), na, (&mut z, g4), false);
        }
        let mut next = active.iter().enumerate().peekable();
        for bi in 0..b {
            let bt = bi * t + step;
            let (hs_done, hs_now) = hseq.split_at_mut(bt * u);
            let (cs_done, cs_now) = cseq.split_at_mut(bt * u);
            let (h_prev, c_prev) = if step > 0 {
                (&hs_done[(bt - 1) * u..], &cs_done[(bt - 1) * u..])
            } else {
                (&zeros[..], &zeros[..])
            };
            hprev[bt * u..(bt + 1) * u].copy_from_slice(h_prev);
            let (h, c) = (&mut hs_now[..u], &mut cs_now[..u]);
            match next.next_if(|&(_, &a)| a == bi) {
                Some((j, _)) => {
                    let xp = &xp[bt * g4..(bt + 1) * g4];
                    let hz = (step > 0).then(|| &z[j * g4..(j + 1) * g4]);
                    let g = &mut gates[bt * g4..(bt + 1) * g4];
                    cell_forward(xp, hz, c_prev, g, c, h);
                }
                // a masked step carries h and c through; its gates are zeros
                None => {
                    h.copy_from_slice(h_prev);
                    c.copy_from_slice(c_prev);
                    gates[bt * g4..(bt + 1) * g4].fill(0.0);
                }
            }
        }
    }
}

/// CPU twin of backpropagation through time: `dz: [B, T, 4U]` (gate pre-activation gradients)
/// from the saved gates and cells, `dh: [B, U]` (the gradient of the last h) and `dy: [B, T, U]`
/// (a sequence output's gradient).
pub(super) fn lstm_backward_cpu(
    gates: &[f32],
    cseq: &[f32],
    rk: &[f32],
    mask: Option<&[f32]>,
    mut dh: Vec<f32>,
    dy: Option<&[f32]>,
    (b, t, u): (usize, usize, usize),
) -> Vec<f32> {
    let g4 = 4 * u;
    // every row is written below (a masked step's as zeros): no zeroing pass here
    let mut dz = overwritten(b * t * g4);
    if b * t * u == 0 {
        return dz;
    }
    let rk_t = ArrayView2::from_shape((u, g4), rk).expect("rk is [U, 4U]");
    let rk_t = &Packed::new(rk_t.reversed_axes());
    let rows = rows_per_thread(b, t, u);
    std::thread::scope(|scope| {
        let chunks = gates
            .chunks(rows * t * g4)
            .zip(cseq.chunks(rows * t * u))
            .zip(dh.chunks_mut(rows * u))
            .zip(dz.chunks_mut(rows * t * g4))
            .enumerate();
        for (k, (((gates, cseq), dh), dz)) in chunks {
            let rows_of = |len: usize| k * rows * len..((k + 1) * rows).min(b) * len;
            let mask = mask.map(|m| &m[rows_of(t)]);
            let dy = dy.map(|d| &d[rows_of(t * u)]);
            let b = dh.len() / u.max(1);
            scope.spawn(move || {
                let _flush = FlushDenormals::new();
                backward_rows(gates, cseq, rk_t, mask, dh, dy, dz, (b, t, u))
            });
        }
    });
    dz
}

/// Backpropagation through time for `b` batch rows (a contiguous block of the batch); as in
/// the forward pass, each step's GEMM covers the unmasked rows only.
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    gates: &[f32],
    cseq: &[f32],
    rk_t: &Packed,
    mask: Option<&[f32]>,
    dh: &mut [f32],
    dy: Option<&[f32]>,
    dz: &mut [f32],
    (b, t, u): (usize, usize, usize),
) {
    let g4 = 4 * u;
    let mut dc = vec![0.0f32; b * u];
    let mut dz_active = vec![0.0f32; b * g4];
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
                dz[bt * g4..(bt + 1) * g4].fill(0.0);
                continue;
            }
            active.push(bi);
            let c_prev = if step > 0 {
                &cseq[(bt - 1) * u..bt * u]
            } else {
                &zeros[..]
            };
            cell_backward(
                &gates[bt * g4..(bt + 1) * g4],
                c_prev,
                &cseq[bt * u..(bt + 1) * u],
                dh,
                &mut dc[bi * u..(bi + 1) * u],
                &mut dz[bt * g4..(bt + 1) * g4],
            );
        }
        // dh_{t-1} = dz_t · rkᵀ for the rows this step updated; masked rows carry dh through
        let na = active.len();
        if na == b {
            rk_t.gemm((&dz[step * g4..], t * g4), b, (dh, u), false);
        } else if na > 0 {
            for (j, &bi) in active.iter().enumerate() {
                let row = (bi * t + step) * g4;
                dz_active[j * g4..(j + 1) * g4].copy_from_slice(&dz[row..row + g4]);
            }
            rk_t.gemm((&dz_active, g4), na, (&mut dh_active, u), false);
            for (j, &bi) in active.iter().enumerate() {
                dh[bi * u..(bi + 1) * u].copy_from_slice(&dh_active[j * u..(j + 1) * u]);
            }
        }
    }
}
