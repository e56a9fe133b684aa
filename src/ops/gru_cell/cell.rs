//! The GRU as a cell of the CPU recurrent driver (`ops::recurrent::cpu`), the CPU twin of
//! `shaders/gru_cell.wgsl` and `shaders/gru_cell_backward.wgsl`: one batch row of one step,
//! in plain loops. Its auxiliary state is hn (see [`GruStates::hn`](super::GruStates::hn)); h
//! reaches h(t-1) directly through `z · h(t-1)`, so the gradient the driver's GEMM multiplies
//! by rkᵀ (dhz) is its own.

use crate::ops::fast_math::{sigmoid_f32, tanh_f32};
use crate::ops::recurrent::cpu::{CpuCell, GradIn, GradOut, StepIn, StepOut};
use crate::ops::simd::with_avx2_build;

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
        if let Some(rb) = self.rb {
            // Keras's default: no product inside the step, so straight-line vector loops.
            return after_forward(s.xp, s.hz, rb, s.h_prev, out.gates, out.aux, out.h);
        }
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
        if self.rb.is_some() {
            return after_backward(s.gates, s.aux, s.h_prev, out.dh, out.dz, out.dhz);
        }
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

with_avx2_build! {
    /// One row of one `reset_after` step forward ([`after_forward_body`]).
    fn after_forward, after_forward_avx2 => after_forward_body(
        xp: &[f32],
        hz: Option<&[f32]>,
        rb: &[f32],
        h_prev: &[f32],
        gates: &mut [f32],
        aux: &mut [f32],
        h: &mut [f32],
    )
}

with_avx2_build! {
    /// One row of one `reset_after` step backward ([`after_backward_body`]).
    fn after_backward, after_backward_avx2 => after_backward_body(
        gates: &[f32],
        aux: &[f32],
        h_prev: &[f32],
        dh: &mut [f32],
        dz: &mut [f32],
        dhz: &mut [f32],
    )
}

/// [`GruCell::forward`] with `reset_after`, in loops over slices of equal length that the
/// compiler vectorises (the same operations in the same order as the general path).
#[inline(always)]
fn after_forward_body(
    xp: &[f32],
    hz: Option<&[f32]>,
    rb: &[f32],
    h_prev: &[f32],
    gates: &mut [f32],
    aux: &mut [f32],
    h: &mut [f32],
) {
    let u = h.len();
    let (zr, ng) = gates.split_at_mut(2 * u);
    let (xp_zr, xp_n) = xp.split_at(2 * u);
    let (rb_zr, rb_n) = rb.split_at(2 * u);
    match hz {
        Some(hz) => {
            let (hz_zr, hz_n) = hz.split_at(2 * u);
            for ((g, &x), (&z, &b)) in zr.iter_mut().zip(xp_zr).zip(hz_zr.iter().zip(rb_zr)) {
                *g = sigmoid_f32(x + (z + b));
            }
            for ((a, &z), &b) in aux.iter_mut().zip(hz_n).zip(rb_n) {
                *a = z + b;
            }
        }
        None => {
            for ((g, &x), &b) in zr.iter_mut().zip(xp_zr).zip(rb_zr) {
                *g = sigmoid_f32(x + b);
            }
            aux.copy_from_slice(&rb_n[..u]);
        }
    }
    let (zg, rg) = zr.split_at(u);
    let (xp_n, h_prev, ng) = (&xp_n[..u], &h_prev[..u], &mut ng[..u]);
    for k in 0..u {
        let n = tanh_f32(xp_n[k] + rg[k] * aux[k]);
        ng[k] = n;
        h[k] = zg[k] * h_prev[k] + (1.0 - zg[k]) * n;
    }
}

/// [`GruCell::backward`] with `reset_after`, as straight-line vector loops.
#[inline(always)]
fn after_backward_body(
    gates: &[f32],
    aux: &[f32],
    h_prev: &[f32],
    dh: &mut [f32],
    dz: &mut [f32],
    dhz: &mut [f32],
) {
    let u = dh.len();
    let (zg, rest) = gates.split_at(u);
    let (rg, ng) = rest.split_at(u);
    let (dz_z, rest) = dz.split_at_mut(u);
    let (dz_r, dz_n) = rest.split_at_mut(u);
    let (dhz_zr, dhz_n) = dhz.split_at_mut(2 * u);
    let (aux, h_prev, ng, dz_n, dhz_n) = (
        &aux[..u],
        &h_prev[..u],
        &ng[..u],
        &mut dz_n[..u],
        &mut dhz_n[..u],
    );
    for k in 0..u {
        let d = dh[k];
        dz_z[k] = d * (h_prev[k] - ng[k]) * zg[k] * (1.0 - zg[k]);
        let dn = d * (1.0 - zg[k]) * (1.0 - ng[k] * ng[k]);
        dz_n[k] = dn;
        dh[k] = d * zg[k];
        dz_r[k] = dn * aux[k] * rg[k] * (1.0 - rg[k]);
        dhz_n[k] = dn * rg[k];
    }
    dhz_zr[..u].copy_from_slice(dz_z);
    dhz_zr[u..].copy_from_slice(dz_r);
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::{after_backward_avx2, after_backward_body, after_forward_avx2, after_forward_body};
    use crate::ops::fast_math::{sigmoid_f32, tanh_f32};

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// A step's inputs: xp, hz, the recurrent bias, h_prev.
    type StepArgs<'a> = (&'a [f32], Option<&'a [f32]>, &'a [f32], &'a [f32]);

    /// The `reset_after` arithmetic as it stood before the vector loops: a scalar reference
    /// with Keras's formulas, element by element.
    fn scalar_forward(
        (xp, hz, rb, h_prev): StepArgs<'_>,
        (g, a, h): (&mut [f32], &mut [f32], &mut [f32]),
    ) {
        let u = h.len();
        let hzb = |k: usize| hz.map_or(0.0, |hz| hz[k]) + rb[k];
        for k in 0..u {
            g[k] = sigmoid_f32(xp[k] + hzb(k));
            g[u + k] = sigmoid_f32(xp[u + k] + hzb(u + k));
            a[k] = hzb(2 * u + k);
            g[2 * u + k] = tanh_f32(xp[2 * u + k] + g[u + k] * a[k]);
            h[k] = g[k] * h_prev[k] + (1.0 - g[k]) * g[2 * u + k];
        }
    }

    fn scalar_backward(
        (gates, aux, h_prev): (&[f32], &[f32], &[f32]),
        (dh, dz, dhz): (&mut [f32], &mut [f32], &mut [f32]),
    ) {
        let u = dh.len();
        for k in 0..u {
            let (d, z, r, n) = (dh[k], gates[k], gates[u + k], gates[2 * u + k]);
            dz[k] = d * (h_prev[k] - n) * z * (1.0 - z);
            dz[2 * u + k] = d * (1.0 - z) * (1.0 - n * n);
            dh[k] = d * z;
            dz[u + k] = dz[2 * u + k] * aux[k] * r * (1.0 - r);
            dhz[k] = dz[k];
            dhz[u + k] = dz[u + k];
            dhz[2 * u + k] = dz[2 * u + k] * r;
        }
    }

    /// The vector loops give the scalar reference's results bit for bit, and their AVX2
    /// build the portable one's, for a row length that is not a multiple of 8, with and
    /// without hz (step 0). Without AVX2 the AVX2 half skips loudly, or fails under
    /// `WGFIT_REQUIRE_AVX2=1` (as on CI).
    #[test]
    fn the_reset_after_loops_equal_a_scalar_reference_bit_for_bit() {
        let avx2 = std::is_x86_feature_detected!("avx2");
        if !avx2 {
            let required = std::env::var("WGFIT_REQUIRE_AVX2");
            assert_ne!(
                required.as_deref(),
                Ok("1"),
                "WGFIT_REQUIRE_AVX2=1 but no AVX2"
            );
            eprintln!("!!!!! NO AVX2 ON THIS PROCESSOR: THE GRU'S AVX2 LOOPS ARE NOT TESTED !!!!!");
        }
        let mut rng = StdRng::seed_from_u64(5);
        let u = 37;
        let mut v =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-4.0..4.0)).collect() };
        let (xp, hz, rb, h_prev, dh) = (v(3 * u), v(3 * u), v(3 * u), v(u), v(u));
        for hz in [Some(&hz[..]), None] {
            let forward = |how: u8| {
                let mut g = vec![f32::NAN; 3 * u];
                let (mut a, mut h) = (vec![f32::NAN; u], vec![f32::NAN; u]);
                let args = (&xp[..], hz, &rb[..], &h_prev[..]);
                match how {
                    0 => scalar_forward(args, (&mut g, &mut a, &mut h)),
                    1 => after_forward_body(&xp, hz, &rb, &h_prev, &mut g, &mut a, &mut h),
                    // SAFETY: only asked for where the processor has AVX2.
                    _ => unsafe {
                        after_forward_avx2(&xp, hz, &rb, &h_prev, &mut g, &mut a, &mut h)
                    },
                }
                (g, a, h)
            };
            let (g, a, h) = forward(0);
            let want = (bits(&g), bits(&a), bits(&h));
            let got = forward(1);
            assert_eq!((bits(&got.0), bits(&got.1), bits(&got.2)), want, "forward");
            if avx2 {
                let got = forward(2);
                assert_eq!(
                    (bits(&got.0), bits(&got.1), bits(&got.2)),
                    want,
                    "forward, AVX2"
                );
            }
            let backward = |how: u8| {
                let (mut d, mut dz, mut dhz) =
                    (dh.clone(), vec![f32::NAN; 3 * u], vec![f32::NAN; 3 * u]);
                match how {
                    0 => scalar_backward((&g, &a, &h_prev), (&mut d, &mut dz, &mut dhz)),
                    1 => after_backward_body(&g, &a, &h_prev, &mut d, &mut dz, &mut dhz),
                    // SAFETY: as above.
                    _ => unsafe { after_backward_avx2(&g, &a, &h_prev, &mut d, &mut dz, &mut dhz) },
                }
                (bits(&d), bits(&dz), bits(&dhz))
            };
            let want = backward(0);
            assert_eq!(backward(1), want, "backward");
            if avx2 {
                assert_eq!(backward(2), want, "backward, AVX2");
            }
        }
    }
}
