//! Branch-free `exp`, `sigmoid` and `tanh` for the CPU twins' hot loops.
//!
//! libm's `expf` is a call per element that the compiler cannot vectorise; these are plain
//! arithmetic and bit casts, so a loop over a slice of them compiles to SIMD (SSE2 on any
//! x86-64, NEON on AArch64). Accuracy: `exp_f32` is Cephes's `expf` (within 2 ulp of the
//! correctly rounded result over the clamped range), `tanh_f32` Cephes's `tanhf` on top of it,
//! the same formula as `shaders/math.wgsl`.

/// Inputs are clamped to this range, so `2^n` is always a normal float: e^-87 = 1.6e-38 and
/// e^88 = 1.7e38.
const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 88.0;

/// `e^x` within 2 ulp for x in [-87, 88]; clamped outside it (so never inf, 0 or subnormal).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // 1.5·2^23: adding it rounds to the nearest integer, and its low mantissa bits then hold
    // that integer (offset by 2^22), with no float-to-int conversion.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    // r = x - n·ln2 in two parts (Cody-Waite), |r| <= ln2/2
    let r = x - n * (355.0 / 512.0) + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n_int + 127) << 23) as u32)
}

/// Where the kernels clamp `exp`'s argument (`exp_clamped` in `shaders/math.wgsl`): e^88 =
/// 1.7e38 is finite, so no platform's fast math (Metal's is on under wgpu) meets an inf that
/// it may turn into NaN.
pub(crate) const EXP_CLAMP: f32 = 88.0;

/// The CPU twin of the kernels' `exp_clamped`: libm's `e^x` with x clamped to ±88.
#[inline]
pub(crate) fn exp_clamped(x: f32) -> f32 {
    x.clamp(-EXP_CLAMP, EXP_CLAMP).exp()
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// Cephes `tanhf` (a few ulp), the same formula as the kernels': a polynomial below 0.625,
/// `1 - 2 / (e^2|x| + 1)` above, both computed and one selected, so it has no branch.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let z = x.abs().min(9.0);
    let large = (1.0 - 2.0 / (exp_f32(2.0 * z) + 1.0)).copysign(x);
    let z2 = x * x;
    let poly =
        (((-5.704_988_7e-3 * z2 + 2.063_909e-2) * z2 - 5.373_971_6e-2) * z2 + 1.333_144_2e-1) * z2
            - 3.333_328e-1;
    let small = poly * z2 * x + x;
    if z >= 0.625 { large } else { small }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, sigmoid_f32, tanh_f32};

    fn rel(a: f32, b: f64) -> f64 {
        (f64::from(a) - b).abs() / b.abs().max(1e-30)
    }

    #[test]
    fn exp_is_within_two_ulp_of_f64_over_its_range() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 175.0 * i as f32 / 200_000.0;
            worst = worst.max(rel(exp_f32(x), f64::from(x).exp()));
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        // clamped, finite and normal outside the range
        assert!(exp_f32(1000.0).is_finite() && exp_f32(-1000.0).is_normal());
        assert!(exp_f32(f32::NEG_INFINITY) > 0.0);
    }

    #[test]
    fn sigmoid_and_tanh_match_f64() {
        let (mut worst_s, mut worst_t) = (0.0f64, 0.0f64);
        for i in 0..=100_000 {
            let x = -20.0 + 40.0 * i as f32 / 100_000.0;
            let xd = f64::from(x);
            worst_s = worst_s.max(rel(sigmoid_f32(x), 1.0 / (1.0 + (-xd).exp())));
            if x != 0.0 {
                worst_t = worst_t.max(rel(tanh_f32(x), xd.tanh()));
            }
        }
        assert!(worst_s < 1e-6, "sigmoid: worst relative error {worst_s}");
        assert!(worst_t < 1e-6, "tanh: worst relative error {worst_t}");
        assert_eq!(tanh_f32(0.0), 0.0);
        assert!((1.0 - tanh_f32(100.0)).abs() <= f32::EPSILON);
        assert_eq!(tanh_f32(-100.0), -tanh_f32(100.0));
        assert_eq!(sigmoid_f32(-200.0).max(0.0), sigmoid_f32(-200.0));
    }
}
