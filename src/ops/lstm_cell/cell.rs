//! One row of one LSTM step on the CPU, forward and backward: the gate math, in straight-line
//! loops over slices that the compiler vectorises, built for SSE2 and AVX2
//! ([`with_avx2_build`]): the same results bit for bit (tested below).

use crate::ops::fast_math::{sigmoid_f32, tanh_f32};
use crate::ops::simd::with_avx2_build;

with_avx2_build! {
    /// One row of one step forward ([`cell_forward_body`]).
    fn cell_forward, cell_forward_avx2 => cell_forward_body(
        xp: &[f32],
        hz: Option<&[f32]>,
        c_prev: &[f32],
        gates: &mut [f32],
        c: &mut [f32],
        h: &mut [f32],
    )
}

with_avx2_build! {
    /// One row of one step backward ([`cell_backward_body`]).
    fn cell_backward, cell_backward_avx2 => cell_backward_body(
        gates: &[f32],
        c_prev: &[f32],
        c: &[f32],
        dh: &[f32],
        dc: &mut [f32],
        dz: &mut [f32],
    )
}

/// One row of one step: the gates from their pre-activations `xp + hz` (`hz = h_{t-1} · rk`,
/// none at step 0), then c and h. Straight-line loops over slices of equal length, which the
/// compiler vectorises.
#[inline(always)]
fn cell_forward_body(
    xp: &[f32],
    hz: Option<&[f32]>,
    c_prev: &[f32],
    gates: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    let u = c.len();
    match hz {
        Some(hz) => gates
            .iter_mut()
            .zip(xp.iter().zip(hz))
            .for_each(|(g, (x, z))| *g = x + z),
        None => gates.copy_from_slice(xp),
    }
    let (g_if, g_go) = gates.split_at_mut(2 * u);
    let (g_g, g_o) = g_go.split_at_mut(u);
    for g in g_if.iter_mut() {
        *g = sigmoid_f32(*g);
    }
    for g in g_g.iter_mut() {
        *g = tanh_f32(*g);
    }
    for g in g_o.iter_mut() {
        *g = sigmoid_f32(*g);
    }
    let (ig, fg) = g_if.split_at(u);
    let c_prev = &c_prev[..u];
    for k in 0..u {
        c[k] = fg[k] * c_prev[k] + ig[k] * g_g[k];
        h[k] = g_o[k] * tanh_f32(c[k]);
    }
}

/// One row of one step backward: from the saved gates and cells and the incoming dh, the
/// gate gradients `dz` and the carried `dc` (updated in place).
#[inline(always)]
fn cell_backward_body(
    gates: &[f32],
    c_prev: &[f32],
    c: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dz: &mut [f32],
) {
    let u = c.len();
    let (ig, rest) = gates.split_at(u);
    let (fg, rest) = rest.split_at(u);
    let (gg, og) = rest.split_at(u);
    let (dz_i, rest) = dz.split_at_mut(u);
    let (dz_f, rest) = rest.split_at_mut(u);
    let (dz_g, dz_o) = rest.split_at_mut(u);
    let (c_prev, dh, dc, og) = (&c_prev[..u], &dh[..u], &mut dc[..u], &og[..u]);
    for k in 0..u {
        let tc = tanh_f32(c[k]);
        let d_o = dh[k] * tc;
        let dct = dc[k] + dh[k] * og[k] * (1.0 - tc * tc);
        dc[k] = dct * fg[k];
        dz_i[k] = dct * gg[k] * ig[k] * (1.0 - ig[k]);
        dz_f[k] = dct * c_prev[k] * fg[k] * (1.0 - fg[k]);
        dz_g[k] = dct * ig[k] * (1.0 - gg[k] * gg[k]);
        dz_o[k] = d_o * og[k] * (1.0 - og[k]);
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::{cell_backward_avx2, cell_backward_body, cell_forward_avx2, cell_forward_body};

    /// The AVX2 builds of the gate loops give the portable build's results bit for bit (the
    /// same operations in the same order), for a row length that is not a multiple of 8.
    /// Without AVX2 it skips loudly, or fails under `WGFIT_REQUIRE_AVX2=1` (as on CI).
    #[test]
    fn the_avx2_gate_loops_equal_the_portable_ones_bit_for_bit() {
        if !std::is_x86_feature_detected!("avx2") {
            assert_ne!(
                std::env::var("WGFIT_REQUIRE_AVX2").as_deref(),
                Ok("1"),
                "WGFIT_REQUIRE_AVX2=1 but this processor has no AVX2"
            );
            eprintln!("!!!!! NO AVX2 ON THIS PROCESSOR: THE AVX2 GATE LOOPS ARE NOT TESTED !!!!!");
            return;
        }
        let mut rng = StdRng::seed_from_u64(11);
        let u = 37;
        let mut v =
            |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-s..s)).collect() };
        let (xp, hz, c_prev, dh, dc) = (
            v(4 * u, 6.0),
            v(4 * u, 3.0),
            v(u, 2.0),
            v(u, 1.0),
            v(u, 1.0),
        );
        let forward = |avx2: bool| {
            let (mut gates, mut c, mut h) =
                (vec![f32::NAN; 4 * u], vec![f32::NAN; u], vec![f32::NAN; u]);
            let hz = Some(&hz[..]);
            if avx2 {
                // SAFETY: the processor has AVX2 (checked above).
                unsafe { cell_forward_avx2(&xp, hz, &c_prev, &mut gates, &mut c, &mut h) };
            } else {
                cell_forward_body(&xp, hz, &c_prev, &mut gates, &mut c, &mut h);
            }
            (gates, c, h)
        };
        let (want, got) = (forward(false), forward(true));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.0), bits(&want.0), "gates");
        assert_eq!(
            (bits(&got.1), bits(&got.2)),
            (bits(&want.1), bits(&want.2)),
            "c and h"
        );
        let (gates, c) = (&want.0, &want.1);
        let backward = |avx2: bool| {
            let (mut dc, mut dz) = (dc.clone(), vec![f32::NAN; 4 * u]);
            if avx2 {
                // SAFETY: as above.
                unsafe { cell_backward_avx2(gates, &c_prev, c, &dh, &mut dc, &mut dz) };
            } else {
                cell_backward_body(gates, &c_prev, c, &dh, &mut dc, &mut dz);
            }
            (bits(&dc), bits(&dz))
        };
        assert_eq!(backward(true), backward(false), "dc and dz");
    }
}
