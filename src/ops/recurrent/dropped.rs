//! The CPU recurrent products under recurrent dropout: gate g reads its own dropped h_prev,
//! `(h_prev ⊙ r_g) · rk_g`, so each step's one GEMM against the whole recurrent kernel becomes
//! one GEMM per gate against that gate's block, packed once per sequence (the same
//! multiply-adds, split by columns). Backward, `dh_prev = Σ_g (dz_g · rk_gᵀ) ⊙ r_g`.

use ndarray::{ArrayView2, s};

use super::gemm::Packed;

/// `rdrop: [G, B, U]` as `[B, G·U]`: one row of masks per batch row, so that a thread's
/// block of rows owns a contiguous slice.
pub(super) fn by_row(rdrop: &[f32], (g, b, u): (usize, usize, usize)) -> Vec<f32> {
    let mut rows = vec![0.0; g * b * u];
    for gate in 0..g {
        for bi in 0..b {
            let from = (gate * b + bi) * u;
            let to = (bi * g + gate) * u;
            rows[to..to + u].copy_from_slice(&rdrop[from..from + u]);
        }
    }
    rows
}

/// The recurrent kernel `rk: [U, G·U]` packed gate by gate: `rk_g` `[U, U]` forward, `rk_gᵀ`
/// backward.
pub(super) struct PerGate {
    packs: Vec<Packed>,
    u: usize,
}

impl PerGate {
    /// For the forward products: `rk_g = rk[:, g·U..(g + 1)·U]`.
    pub(super) fn forward(rk: ArrayView2<'_, f32>, gates: usize) -> PerGate {
        Self::pack(rk, gates, false)
    }

    /// For the backward products: `rk_gᵀ`.
    pub(super) fn backward(rk: ArrayView2<'_, f32>, gates: usize) -> PerGate {
        Self::pack(rk, gates, true)
    }

    fn pack(rk: ArrayView2<'_, f32>, gates: usize, transposed: bool) -> PerGate {
        let u = rk.dim().0;
        let packs = (0..gates)
            .map(|g| {
                let block = rk.slice(s![.., g * u..(g + 1) * u]);
                Packed::new(if transposed {
                    block.reversed_axes()
                } else {
                    block
                })
            })
            .collect();
        PerGate { packs, u }
    }

    /// `z[j, g·U..(g + 1)·U] = (h_prev(active[j]) ⊙ r[active[j], g]) · rk_g` for every gate,
    /// with `rdrop` `[rows, G·U]` (rows of this block) and `h_tmp` `[≥ na, U]` scratch.
    pub(super) fn product<'h>(
        &self,
        active: &[usize],
        h_prev: impl Fn(usize) -> &'h [f32],
        rdrop: &[f32],
        h_tmp: &mut [f32],
        z: &mut [f32],
    ) {
        let (u, gates) = (self.u, self.packs.len());
        let g_all = gates * u;
        for (g, pack) in self.packs.iter().enumerate() {
            for (j, &bi) in active.iter().enumerate() {
                let r = &rdrop[bi * g_all + g * u..bi * g_all + (g + 1) * u];
                let h = &h_prev(bi)[..u];
                for ((o, &h), &r) in h_tmp[j * u..(j + 1) * u].iter_mut().zip(h).zip(r) {
                    *o = h * r;
                }
            }
            pack.gemm((h_tmp, u), active.len(), (&mut z[g * u..], g_all), false);
        }
    }

    /// `dh[bi] (+)= Σ_g (src[bi, g] · rk_gᵀ) ⊙ r[bi, g]` for each `bi` of `active` (`+=`
    /// with `accumulate`, else `=`), src row `bi` starting at `src[bi·ld]` (`[G·U]`);
    /// `a_tmp`, `out_tmp` `[≥ na, U]` scratch.
    pub(super) fn grad(
        &self,
        active: &[usize],
        (src, ld): (&[f32], usize),
        rdrop: &[f32],
        (a_tmp, out_tmp): (&mut [f32], &mut [f32]),
        dh: &mut [f32],
        accumulate: bool,
    ) {
        let (u, gates) = (self.u, self.packs.len());
        let g_all = gates * u;
        if !accumulate {
            for &bi in active {
                dh[bi * u..(bi + 1) * u].fill(0.0);
            }
        }
        for (g, pack) in self.packs.iter().enumerate() {
            for (j, &bi) in active.iter().enumerate() {
                let from = bi * ld + g * u;
                a_tmp[j * u..(j + 1) * u].copy_from_slice(&src[from..from + u]);
            }
            pack.gemm((a_tmp, u), active.len(), (out_tmp, u), false);
            for (j, &bi) in active.iter().enumerate() {
                let r = &rdrop[bi * g_all + g * u..bi * g_all + (g + 1) * u];
                let d = &mut dh[bi * u..(bi + 1) * u];
                for ((d, &p), &r) in d.iter_mut().zip(&out_tmp[j * u..(j + 1) * u]).zip(r) {
                    *d += p * r;
                }
            }
        }
    }
}
