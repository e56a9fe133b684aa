// Embedding gradient, deterministic (no float atomics): the host sorts the batch's positions
// by token, so each vocabulary row sums its own positions' gradients in a fixed order.
// offsets: [V + 1] (u32; token v's positions are positions[offsets[v] .. offsets[v + 1]]),
// positions: [P] (u32, flat indices into the batch), dy: [P_total, D] -> grad: [V, D]
// (0 for tokens the batch does not use). One invocation per (v, d). The forward lookup is
// the row gather of gather.wgsl.
// A dispatch adds the positions lo..hi of each token's list to what the one before left in
// grad: the host splits lists longer than a software adapter's loop budget (ops::loop_ranges;
// a padding token can fill most of a batch); elsewhere one dispatch takes them whole.

struct Params {
    vocab: u32,
    dim: u32,
    lo: u32,
    hi: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;

@compute @workgroup_size(256)
fn embedding_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.vocab * p.dim {
        return;
    }
    let v = i / p.dim;
    let d = i % p.dim;
    let start = offsets[v];
    let end = min(offsets[v + 1u], start + p.hi);
    var s = 0.0;
    if p.lo > 0u {
        s = grad[i];
    }
    for (var k = start + p.lo; k < end; k++) {
        s += dy[positions[k] * p.dim + d];
    }
    grad[i] = s;
}
