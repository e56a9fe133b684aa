//! The GEMM of an LSTM step on the CPU: a few rows (the batch rows one thread owns) against
//! one right-hand matrix (the recurrent kernel, or its transpose) that every step reuses.
//!
//! A general GEMM packs its right operand into cache-friendly panels on every call; here the
//! operand is packed once per sequence ([`Packed`]) and each step only streams its rows through
//! a 6x16 register block. Written as plain loops over fixed-size arrays, which the compiler
//! turns into SIMD; on x86-64 the loop is compiled a second time for AVX2 + FMA and chosen at
//! run time when the processor has them (every x86-64 of the last ten years).

use ndarray::ArrayView2;

/// Output columns per panel (two AVX vectors, four NEON or SSE ones).
const NR: usize = 16;
/// Output rows per register block: 6 x 16 accumulators fill 12 of the 16 AVX registers.
const MR: usize = 6;

/// `b: [k, n]` in panels of [`NR`] columns, each `[k][NR]` contiguous and zero-padded past `n`.
pub(super) struct Packed {
    k: usize,
    n: usize,
    panels: Vec<f32>,
}

impl Packed {
    /// Packs `b` (any strides: the recurrent kernel, or a transposed view of it).
    pub(super) fn new(b: ArrayView2<'_, f32>) -> Self {
        let (k, n) = b.dim();
        let mut panels = vec![0.0; n.div_ceil(NR) * k * NR];
        for (jp, panel) in panels.chunks_exact_mut(k * NR).enumerate() {
            for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
                for (j, v) in row.iter_mut().enumerate().take(n.saturating_sub(jp * NR)) {
                    *v = b[(p, jp * NR + j)];
                }
            }
        }
        Packed { k, n, panels }
    }

    /// `c = a · b` (or `c += a · b` with `accumulate`) for `m` rows: row `i` of `a` starts at
    /// `a[i * lda]` (k values), row `i` of `c` at `c[i * ldc]` (n values).
    pub(super) fn gemm(
        &self,
        (a, lda): (&[f32], usize),
        m: usize,
        (c, ldc): (&mut [f32], usize),
        accumulate: bool,
    ) {
        if m == 0 || self.n == 0 {
            return;
        }
        assert!(a.len() >= (m - 1) * lda + self.k && c.len() >= (m - 1) * ldc + self.n);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the processor has AVX2 and FMA (checked just above).
            unsafe { gemm_avx2_fma(self, (a, lda), m, (c, ldc), accumulate) };
            return;
        }
        // AArch64 always has a fused multiply-add; elsewhere mul_add would be a libm call.
        gemm_impl::<{ cfg!(target_arch = "aarch64") }>(self, (a, lda), m, (c, ldc), accumulate);
    }
}

/// The loop over panels and blocks of up to [`MR`] rows, running `$block::<R>` (with the
/// extra const arguments given) on each: one loop for the AVX2 and the portable kernels.
macro_rules! for_each_block {
    ($b:expr, ($a:expr, $lda:expr), $m:expr, ($c:expr, $ldc:expr), $accumulate:expr,
     $($block:ident)::+ $(, $extra:ident)?) => {{
        let (b, a, lda, m, c, ldc) = ($b, $a, $lda, $m, $c, $ldc);
        let k = b.k;
        for (jp, panel) in b.panels.chunks_exact(k * NR).enumerate() {
            let (n0, cols) = (jp * NR, NR.min(b.n - jp * NR));
            let mut m0 = 0;
            while m0 < m {
                let rows = MR.min(m - m0);
                let a = (&a[m0 * lda..], lda);
                let out = (&mut c[m0 * ldc + n0..], ldc, cols, $accumulate);
                match rows {
                    6 => $($block)::+::<6 $(, $extra)?>(a, panel, k, out),
                    5 => $($block)::+::<5 $(, $extra)?>(a, panel, k, out),
                    4 => $($block)::+::<4 $(, $extra)?>(a, panel, k, out),
                    3 => $($block)::+::<3 $(, $extra)?>(a, panel, k, out),
                    2 => $($block)::+::<2 $(, $extra)?>(a, panel, k, out),
                    _ => $($block)::+::<1 $(, $extra)?>(a, panel, k, out),
                }
                m0 += rows;
            }
        }
    }};
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gemm_avx2_fma(
    b: &Packed,
    (a, lda): (&[f32], usize),
    m: usize,
    (c, ldc): (&mut [f32], usize),
    accumulate: bool,
) {
    for_each_block!(b, (a, lda), m, (c, ldc), accumulate, avx2::block);
}

/// The register block in AVX2 + FMA intrinsics: the portable loop below compiles to the same
/// instructions but keeps its accumulators in memory (the compiler does not promote an array
/// it also indexes at run time), which halves its speed.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };

    use super::NR;

    #[inline(always)]
    pub(super) fn block<const R: usize>(
        (a, lda): (&[f32], usize),
        panel: &[f32],
        k: usize,
        (c, ldc, cols, accumulate): (&mut [f32], usize, usize, bool),
    ) {
        let rows: [&[f32]; R] = std::array::from_fn(|i| &a[i * lda..i * lda + k]);
        let panel = &panel[..k * NR];
        // SAFETY: the caller runs with AVX2 and FMA (this is only inlined into
        // `gemm_avx2_fma`); every pointer read is inside a slice checked above: `rows[i]`
        // has k values and `panel` k rows of NR.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for p in 0..k {
                let bp = panel.as_ptr().add(p * NR);
                let (b0, b1) = (_mm256_loadu_ps(bp), _mm256_loadu_ps(bp.add(8)));
                for i in 0..R {
                    let av = _mm256_broadcast_ss(&*rows[i].as_ptr().add(p));
                    acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
                    acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
                }
            }
            for (i, acc) in acc.iter().enumerate() {
                let mut sums = [0.0f32; NR];
                _mm256_storeu_ps(sums.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(sums.as_mut_ptr().add(8), acc[1]);
                let out = &mut c[i * ldc..i * ldc + cols];
                for (o, &v) in out.iter_mut().zip(&sums) {
                    *o = if accumulate { *o + v } else { v };
                }
            }
        }
    }
}

#[inline(always)]
fn gemm_impl<const FMA: bool>(
    b: &Packed,
    (a, lda): (&[f32], usize),
    m: usize,
    (c, ldc): (&mut [f32], usize),
    accumulate: bool,
) {
    for_each_block!(b, (a, lda), m, (c, ldc), accumulate, block, FMA);
}

/// `R` rows of `a` times one panel: `R x NR` accumulators, one pass over k.
#[inline(always)]
fn block<const R: usize, const FMA: bool>(
    (a, lda): (&[f32], usize),
    panel: &[f32],
    k: usize,
    (c, ldc, cols, accumulate): (&mut [f32], usize, usize, bool),
) {
    let rows: [&[f32]; R] = std::array::from_fn(|i| &a[i * lda..i * lda + k]);
    let panel = &panel[..k * NR];
    // Accumulators in locals, indices checked once above: the loop has a single exit and no
    // bounds checks, so the compiler keeps all R x NR sums in registers.
    let mut acc = [[0.0f32; NR]; R];
    for p in 0..k {
        let bv: [f32; NR] = std::array::from_fn(|j| panel[p * NR + j]);
        for i in 0..R {
            let av = rows[i][p];
            for j in 0..NR {
                acc[i][j] = if FMA {
                    av.mul_add(bv[j], acc[i][j])
                } else {
                    av * bv[j] + acc[i][j]
                };
            }
        }
    }
    for (i, acc) in acc.iter().enumerate() {
        let out = &mut c[i * ldc..i * ldc + cols];
        for (o, &v) in out.iter_mut().zip(acc) {
            *o = if accumulate { *o + v } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, linalg::general_mat_mul};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::Packed;

    #[test]
    fn matches_ndarray_on_awkward_shapes_and_strides() {
        let mut rng = StdRng::seed_from_u64(7);
        for (m, k, n) in [
            (1, 1, 1),
            (7, 13, 31),
            (6, 128, 512),
            (13, 512, 128),
            (5, 3, 17),
        ] {
            let b = Array2::from_shape_fn((k, n), |_| rng.random_range(-1.0f32..1.0));
            let lda = k + 3; // rows of a with a gap between them
            let a: Vec<f32> = (0..m * lda)
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect();
            let init = Array2::from_shape_fn((m, n), |_| rng.random_range(-1.0f32..1.0));
            for (accumulate, transposed) in [(false, false), (true, false), (true, true)] {
                // a transposed view packs as well as a row-major one
                let bt = b.t().to_owned();
                let packed = if transposed {
                    Packed::new(bt.t())
                } else {
                    Packed::new(b.view())
                };
                let mut want = init.clone();
                let beta = if accumulate { 1.0 } else { 0.0 };
                let a_rows = Array2::from_shape_fn((m, k), |(i, p)| a[i * lda + p]);
                general_mat_mul(1.0, &a_rows, &b, beta, &mut want);
                let ldc = n + 2;
                let mut c = vec![f32::NAN; m * ldc];
                for i in 0..m {
                    for j in 0..n {
                        c[i * ldc + j] = init[(i, j)];
                    }
                }
                packed.gemm((&a, lda), m, (&mut c, ldc), accumulate);
                for i in 0..m {
                    for j in 0..n {
                        let (got, w) = (c[i * ldc + j], want[(i, j)]);
                        assert!(
                            (got - w).abs() <= 1e-5 * (1.0 + w.abs()) * (k as f32).sqrt(),
                            "{m}x{k}x{n} ({i}, {j}): {got} vs {w}"
                        );
                    }
                    // the gap between output rows is left alone
                    assert!(c[i * ldc + n..(i + 1) * ldc].iter().all(|v| v.is_nan()));
                }
            }
        }
    }
}
