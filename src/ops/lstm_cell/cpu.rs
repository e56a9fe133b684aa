//! CPU twins of the LSTM cell kernels: the same loops, step by step, in the kernels' order.

use crate::ops::bias_act::tanh_f32;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub(super) type CpuStates = (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>);

/// CPU twin of the forward pass, step by step as the kernel runs.
pub(super) fn lstm_forward_cpu(
    xp: &[f32],
    rk: &[f32],
    mask: Option<&[f32]>,
    b: usize,
    t: usize,
    u: usize,
) -> CpuStates {
    let (mut hseq, mut cseq) = (vec![0.0; b * t * u], vec![0.0; b * t * u]);
    let (mut gates, mut hprev) = (vec![0.0; b * t * 4 * u], vec![0.0; b * t * u]);
    for step in 0..t {
        for bi in 0..b {
            let bt = bi * t + step;
            for ui in 0..u {
                let (h_prev, c_prev) = if step > 0 {
                    (hseq[(bt - 1) * u + ui], cseq[(bt - 1) * u + ui])
                } else {
                    (0.0, 0.0)
                };
                hprev[bt * u + ui] = h_prev;
                if mask.is_some_and(|m| m[bt] == 0.0) {
                    hseq[bt * u + ui] = h_prev;
                    cseq[bt * u + ui] = c_prev;
                    continue;
                }
                let g_base = bt * 4 * u;
                let mut z = [0.0f32; 4];
                for (k, zk) in z.iter_mut().enumerate() {
                    *zk = xp[g_base + k * u + ui];
                }
                if step > 0 {
                    for j in 0..u {
                        let hj = hseq[(bt - 1) * u + j];
                        for (k, zk) in z.iter_mut().enumerate() {
                            *zk += hj * rk[j * 4 * u + k * u + ui];
                        }
                    }
                }
                let (ig, fg, gg, og) =
                    (sigmoid(z[0]), sigmoid(z[1]), tanh_f32(z[2]), sigmoid(z[3]));
                let c = fg * c_prev + ig * gg;
                for (k, v) in [ig, fg, gg, og].into_iter().enumerate() {
                    gates[g_base + k * u + ui] = v;
                }
                cseq[bt * u + ui] = c;
                hseq[bt * u + ui] = og * tanh_f32(c);
            }
        }
    }
    (hseq, cseq, gates, hprev)
}

/// CPU twin of backpropagation through time, in the kernels' order.
pub(super) fn lstm_backward_cpu(
    gates: &[f32],
    cseq: &[f32],
    rk: &[f32],
    mask: Option<&[f32]>,
    mut dh: Vec<f32>,
    dy: Option<&[f32]>,
    (b, t, u): (usize, usize, usize),
) -> Vec<f32> {
    let mut dc = vec![0.0f32; b * u];
    let mut dz = vec![0.0f32; b * t * 4 * u];
    for step in (0..t).rev() {
        for bi in 0..b {
            let bt = bi * t + step;
            let masked = mask.is_some_and(|m| m[bt] == 0.0);
            let g_base = bt * 4 * u;
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
            if masked {
                continue;
            }
            for ui in 0..u {
                let r_base = ui * 4 * u;
                dh[bi * u + ui] = (0..4 * u).map(|k| dz[g_base + k] * rk[r_base + k]).sum();
            }
        }
    }
    dz
}
