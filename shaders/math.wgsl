// Shared math, prepended to the kernels that need it (WGSL has no includes): the CPU twins
// compute the same formulas, so both sides agree to a few ulp where WGSL's builtins promise
// less (tanh near 0, log near 1).

// exp's argument clamped to +-88, where e^88 = 1.7e38 is still finite: Metal compiles with
// fast math on (wgpu leaves it so), under which exp overflowing to inf, and inf in a division,
// may give NaN where IEEE (and Keras) give 0 or 1. The CPU twins clamp likewise
// (ops::fast_math::exp_f32).
fn exp_clamped(x: f32) -> f32 {
    return exp(clamp(x, -88.0, 88.0));
}

fn sigmoid(x: f32) -> f32 {
    return 1.0 / (1.0 + exp_clamped(-x));
}

// Cephes tanhf: a few ulp everywhere, where WGSL's tanh has no useful bound near 0.
fn tanh_f32(x: f32) -> f32 {
    let z = min(abs(x), 9.0);
    if z >= 0.625 {
        return sign(x) * (1.0 - 2.0 / (exp(2.0 * z) + 1.0));
    }
    let z2 = x * x;
    let poly = (((-5.70498872745e-3 * z2 + 2.06390887954e-2) * z2 - 5.37397155531e-2) * z2
        + 1.33314422036e-1) * z2 - 3.33332819422e-1;
    return poly * z2 * x + x;
}

// log(1 + r) for r >= 0 to a few ulp: WGSL only bounds log's absolute error near 1, so small
// r goes through 2 atanh(w), w = r / (2 + r) <= 1/3, as a series.
fn log1p_pos(r: f32) -> f32 {
    if r > 1.0 {
        return log(1.0 + r);
    }
    let w = r / (2.0 + r);
    let w2 = w * w;
    var term = w;
    var acc = w;
    for (var k = 3.0; k < 24.0; k += 2.0) {
        term *= w2;
        acc += term / k;
    }
    return 2.0 * acc;
}

