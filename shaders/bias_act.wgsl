// Uses activate from activation.wgsl (and math.wgsl before it), which the host prepends.
// Bias add fused with an elementwise activation, and its backward.
// bias_act_forward:  x: [R, C], bias: [C] (unused unless has_bias), y: [R, C]; y = act(x + bias)
// bias_act_backward: dy: [R, C], y: [R, C] (the forward output), dx: [R, C]; dx = dy * act'(y)
// act: 0 linear, 1 relu, 2 sigmoid, 3 tanh. The derivative is taken from the output y, so the
// forward input need not be kept: relu' = y > 0, sigmoid' = y (1 - y), tanh' = 1 - y^2.

struct Params {
    rows: u32,
    cols: u32,
    act: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn derivative(y: f32) -> f32 {
    switch p.act {
        case 1u: { return select(0.0, 1.0, y > 0.0); }
        case 2u: { return y * (1.0 - y); }
        case 3u: { return 1.0 - y * y; }
        default: { return 1.0; }
    }
}

@compute @workgroup_size(256)
fn bias_act_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.rows * p.cols {
        return;
    }
    var v = in0[i];
    if p.has_bias != 0u {
        v += in1[i % p.cols];
    }
    out[i] = activate(v, p.act);
}

@compute @workgroup_size(256)
fn bias_act_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.rows * p.cols {
        return;
    }
    out[i] = in0[i] * derivative(in1[i]);
}
