//! CPU twins of the LSTM cell kernels. Per step, the recurrent product of every batch row is one
//! GEMM (`h_prev · rk`, ndarray's blocked kernel), then the gates run elementwise as in the
//! WGSL; backward mirrors it (`dh = dz · rkᵀ`). Masked rows are computed and then discarded, so
//! a masked step costs what an unmasked one does, no more.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ShapeBuilder};

use crate::device::FlushDenormals;
use crate::ops::bias_act::tanh_f32;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `hseq, cseq: [B, T, U]`, `gates: [B, T, 4U]` (activated i, f, g, o), `hprev: [B, T, U]`.
pub(super) type CpuStates = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// Rows `[B, cols]` of step `step` inside a `[B, T, cols]` buffer, as a strided view.
fn step_rows(data: &[f32], b: usize, t: usize, cols: usize, step: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((b, cols).strides((t * cols, 1)), &data[step * cols..])
        .expect("a step of a [B, T, cols] buffer")
}

/// Batch rows per thread: the rows of an LSTM are independent recurrences, so each thread runs
/// whole sequences for its rows (no synchronisation per step). Below about 2^16 cell-steps a
/// thread costs more than it saves, so small problems stay on one.
fn rows_per_thread(b: usize, t: usize, u: usize) -> usize {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
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
    let (mut hseq, mut cseq) = (vec![0.0; b * t * u], vec![0.0; b * t * u]);
    let (mut gates, mut hprev) = (vec![0.0; b * t * g4], vec![0.0; b * t * u]);
    if b * t * u == 0 {
        return (hseq, cseq, gates, hprev);
    }
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

/// The forward pass for `b` batch rows (a contiguous block of the batch).
fn forward_rows(
    xp: &[f32],
    rk: &[f32],
    mask: Option<&[f32]>,
    (hseq, cseq, gates, hprev): RowsOut<'_>,
    (b, t, u): (usize, usize, usize),
) {
    let g4 = 4 * u;
    let rk = ArrayView2::from_shape((u, g4), rk).expect("rk is [U, 4U]");
    let mut z = Array2::<f32>::zeros((b, g4));
    for step in 0..t {
        // z = xp_t + h_{t-1} · rk, every batch row in one GEMM
        z.assign(&step_rows(xp, b, t, g4, step));
        if step > 0 {
            general_mat_mul(1.0, &step_rows(hseq, b, t, u, step - 1), &rk, 1.0, &mut z);
        }
        for bi in 0..b {
            let bt = bi * t + step;
            let masked = mask.is_some_and(|m| m[bt] == 0.0);
            let zr = z.row(bi);
            for ui in 0..u {
                let (h_prev, c_prev) = if step > 0 {
                    (hseq[(bt - 1) * u + ui], cseq[(bt - 1) * u + ui])
                } else {
                    (0.0, 0.0)
                };
                hprev[bt * u + ui] = h_prev;
                if masked {
                    // a masked step carries h and c through
                    hseq[bt * u + ui] = h_prev;
                    cseq[bt * u + ui] = c_prev;
                    continue;
                }
                let (ig, fg, gg, og) = (
                    sigmoid(zr[ui]),
                    sigmoid(zr[u + ui]),
                    tanh_f32(zr[2 * u + ui]),
                    sigmoid(zr[3 * u + ui]),
                );
                let c = fg * c_prev + ig * gg;
                let g_base = bt * g4;
                for (k, v) in [ig, fg, gg, og].into_iter().enumerate() {
                    gates[g_base + k * u + ui] = v;
                }
                cseq[bt * u + ui] = c;
                hseq[bt * u + ui] = og * tanh_f32(c);
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
    let mut dz = vec![0.0f32; b * t * g4];
    if b * t * u == 0 {
        return dz;
    }
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
                backward_rows(gates, cseq, rk, mask, dh, dy, dz, (b, t, u))
            });
        }
    });
    dz
}

/// Backpropagation through time for `b` batch rows (a contiguous block of the batch).
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    gates: &[f32],
    cseq: &[f32],
    rk: &[f32],
    mask: Option<&[f32]>,
    dh: &mut [f32],
    dy: Option<&[f32]>,
    dz: &mut [f32],
    (b, t, u): (usize, usize, usize),
) {
    let g4 = 4 * u;
    let rk_t = ArrayView2::from_shape((u, g4), rk)
        .expect("rk is [U, 4U]")
        .reversed_axes();
    let mut dc = vec![0.0f32; b * u];
    let mut dh_next = Array2::<f32>::zeros((b, u));
    for step in (0..t).rev() {
        for bi in 0..b {
            let bt = bi * t + step;
            let masked = mask.is_some_and(|m| m[bt] == 0.0);
            let g_base = bt * g4;
            for ui in 0..u {
                let i = bi * u + ui;
                if let Some(dy) = dy {
                    dh[i] += dy[bt * u + ui];
                }
                if masked {
                    continue;
                }
                let (ig, fg, gg, og) = (
                    gates[g_base + ui],
                    gates[g_base + u + ui],
                    gates[g_base + 2 * u + ui],
                    gates[g_base + 3 * u + ui],
                );
                let c_prev = if step > 0 {
                    cseq[(bt - 1) * u + ui]
                } else {
                    0.0
                };
                let tc = tanh_f32(cseq[bt * u + ui]);
                let d_o = dh[i] * tc;
                let dct = dc[i] + dh[i] * og * (1.0 - tc * tc);
                dc[i] = dct * fg;
                dz[g_base + ui] = dct * gg * ig * (1.0 - ig);
                dz[g_base + u + ui] = dct * c_prev * fg * (1.0 - fg);
                dz[g_base + 2 * u + ui] = dct * ig * (1.0 - gg * gg);
                dz[g_base + 3 * u + ui] = d_o * og * (1.0 - og);
            }
        }
        // dh_{t-1} = dz_t · rkᵀ for the rows this step updated; masked rows carry dh through
        general_mat_mul(
            1.0,
            &step_rows(dz, b, t, g4, step),
            &rk_t,
            0.0,
            &mut dh_next,
        );
        for bi in 0..b {
            if !mask.is_some_and(|m| m[bi * t + step] == 0.0) {
                dh[bi * u..(bi + 1) * u].copy_from_slice(dh_next.row(bi).as_slice().expect("row"));
            }
        }
    }
}
