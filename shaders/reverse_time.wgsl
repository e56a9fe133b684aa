// Time reversal: out[b, t, f] = x[b, T - 1 - t, f]. x, out: [B, T, inner] (inner = F for
// [B, T, F] values, 1 for a [B, T] mask). One invocation per output element, consecutive
// invocations writing consecutive outputs (and reading consecutive inputs within a step).
// The backward direction of a Bidirectional RNN reads its input, mask and gradients through it.

struct Params {
    n: u32,
    steps: u32,
    inner: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn reverse_time(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * 256u;
    if o >= p.n {
        return;
    }
    let f = o % p.inner;
    let row = o / p.inner;
    let t = row % p.steps;
    let b = row / p.steps;
    out[o] = x[(b * p.steps + (p.steps - 1u - t)) * p.inner + f];
}
