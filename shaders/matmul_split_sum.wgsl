// Uses activate from activation.wgsl (and math.wgsl before it), which the host prepends.
// The second half of a split-K matmul (src/ops/matmul/split_sum.rs): the vec4 kernel left each
// split's partial sum of op(a)·op(b) in partial: [S, len] (len = batch·M·N); this adds them
// in the fixed order s = 0, 1, ..., S-1 (the same result every run, whatever the adapter
// schedules), then the bias and the activation: out[i] = act(sum_s partial[s, i] + bias[i % N]).
// bias: [N] (read only if has_bias), out: [len].

struct Params {
    len: u32,
    n: u32,
    splits: u32,
    act: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn matmul_split_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.len {
        return;
    }
    var v = partial[i];
    for (var s = 1u; s < p.splits; s++) {
        v += partial[s * p.len + i];
    }
    if p.has_bias != 0u {
        v += bias[i % p.n];
    }
    out[i] = activate(v, p.act);
}
