//! The GRU as a cell of the CPU recurrent driver (`ops::recurrent::cpu`), the CPU twin of
//! `shaders/gru_cell.wgsl` and `shaders/gru_cell_backward.wgsl`: one batch row of one step,
//! in plain loops. Its auxiliary state is hn (see [`GruStates::hn`](super::GruStates::hn)); h
//! reaches h(t-1) directly through `z · h(t-1)`, so the gradient the driver's GEMM multiplies
//! by rkᵀ (dhz) is its own.

use crate::ops::fast_math::{sigmoid_f32, tanh_f32};
use crate::ops::recurrent::cpu::{CpuCell, GradIn, GradOut, StepIn, StepOut};

/// A GRU step with the recurrent kernel `rk: [U, 3U]` and, for `reset_after`, the recurrent
/// bias `rb: [3U]`; without it (`None`), the reset gate applies before the product.
pub(super) struct GruCell<'a> {
    pub rk: &'a [f32],
    pub rb: Option<&'a [f32]>,
}

impl GruCell<'_> {
    /// Column `k` of `R_h` (the candidate's block of rk) at row `j`: `rk[j, 2U + k]`.
    fn rh(&self, u: usize, j: usize, k: usize) -> f32 {
        self.rk[j * 3 * u + 2 * u + k]
    }
}

impl CpuCell for GruCell<'_> {
    const GATES: usize = 3;
    const DHZ_IS_DZ: bool = false;
    const DIRECT: bool = true;

    // z = σ(xp_z + hz_z (+ rb_z)), r = σ(xp_r + hz_r (+ rb_r)); reset_after: hn = hz_h + rb_h,
    // n = tanh(xp_h + r hn); before: hn = r (h_prev ⊙ r_h), n = tanh(xp_h + hn · R_h);
    // h = z h_prev + (1 - z) n (the undropped h_prev: hz is the driver's, from dropped ones)
    fn forward(&self, s: StepIn<'_>, out: StepOut<'_>) {
        let u = out.h.len();
        let r_h = |k: usize| s.rdrop.map_or(1.0, |r| r[2 * u + k]);
        let hz = |k: usize| s.hz.map_or(0.0, |hz| hz[k]) + self.rb.map_or(0.0, |rb| rb[k]);
        let (zg, rest) = out.gates.split_at_mut(u);
        let (rg, ng) = rest.split_at_mut(u);
        for k in 0..u {
            zg[k] = sigmoid_f32(s.xp[k] + hz(k));
            rg[k] = sigmoid_f32(s.xp[u + k] + hz(u + k));
            out.aux[k] = match self.rb {
                Some(_) => hz(2 * u + k),
                None => rg[k] * (s.h_prev[k] * r_h(k)),
            };
        }
        for k in 0..u {
            let pre = match self.rb {
                Some(_) => s.xp[2 * u + k] + rg[k] * out.aux[k],
                None => (0..u).fold(s.xp[2 * u + k], |acc, j| {
                    acc + out.aux[j] * self.rh(u, j, k)
                }),
            };
            ng[k] = tanh_f32(pre);
            out.h[k] = zg[k] * s.h_prev[k] + (1.0 - zg[k]) * ng[k];
        }
    }

    // da_z = dh (h_prev - n) z (1 - z), da_n = dh (1 - z) (1 - n²); reset_after:
    // da_r = da_n hn r (1 - r), dhz = (da_z, da_r, da_n r); before: drh = da_n · R_hᵀ,
    // da_r = drh (h_prev ⊙ r_h) r (1 - r), dhz = (da_z, da_r, 0); dh <- dh z (+ drh r r_h
    // before)
    fn backward(&self, s: GradIn<'_>, out: GradOut<'_>) {
        let u = out.dh.len();
        let r_h = |k: usize| s.rdrop.map_or(1.0, |r| r[2 * u + k]);
        let (zg, rest) = s.gates.split_at(u);
        let (rg, ng) = rest.split_at(u);
        let (dz_z, rest) = out.dz.split_at_mut(u);
        let (dz_r, dz_n) = rest.split_at_mut(u);
        for k in 0..u {
            let dh = out.dh[k];
            dz_z[k] = dh * (s.h_prev[k] - ng[k]) * zg[k] * (1.0 - zg[k]);
            dz_n[k] = dh * (1.0 - zg[k]) * (1.0 - ng[k] * ng[k]);
            out.dh[k] = dh * zg[k];
        }
        for k in 0..u {
            match self.rb {
                Some(_) => {
                    dz_r[k] = dz_n[k] * s.aux[k] * rg[k] * (1.0 - rg[k]);
                    out.dhz[2 * u + k] = dz_n[k] * rg[k];
                }
                None => {
                    let drh = (0..u).fold(0.0, |acc, j| acc + dz_n[j] * self.rh(u, k, j));
                    dz_r[k] = drh * (s.h_prev[k] * r_h(k)) * rg[k] * (1.0 - rg[k]);
                    out.dh[k] += drh * rg[k] * r_h(k);
                    out.dhz[2 * u + k] = 0.0;
                }
            }
        }
        out.dhz[..u].copy_from_slice(dz_z);
        out.dhz[u..2 * u].copy_from_slice(dz_r);
    }
}
