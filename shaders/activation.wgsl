// Elementwise activations by code, shared by bias_act and matmul_vec4's epilogue (prepended
// after math.wgsl, whose sigmoid and tanh_f32 it uses). The codes are ops::bias_act's
// activation_code: 0 linear, 1 relu, 2 sigmoid, 3 tanh; the CPU twin is bias_act.rs's
// activate_cpu, the same formulas.

fn activate(v: f32, act: u32) -> f32 {
    switch act {
        case 1u: { return max(v, 0.0); }
        case 2u: { return sigmoid(v); }
        case 3u: { return tanh_f32(v); }
        default: { return v; }
    }
}
