// Uses Params, p and index from recurrent.wgsl, which the host prepends.
// SimpleRNN backpropagation through time, two dispatches per step (t descending):
// rnn_backward_gates, per (b, u): adds dy(t) to dh when the whole sequence is an output, then
//   dz(t) = dh (1 - h(t)²) (0 at masked steps);
// rnn_backward_h, per (b, u): dh <- dz(t) · Rᵀ, the gradient reaching h(t - 1) (a masked step
//   passes dh through unchanged, as its forward passed h through).
// dz: [B, T, U] (the gradient of xp), mask: [B, T], dh: [B, U] (the running gradient),
// rk_t: [U, U] (the recurrent kernel transposed: neighbouring units, neighbouring addresses),
// hseq: [B, T, U], dy_seq: [B, T, U].

@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk_t: array<f32>;
@group(0) @binding(5) var<storage, read> hseq: array<f32>;
@group(0) @binding(6) var<storage, read> dy_seq: array<f32>;

fn masked(bt: u32) -> bool {
    return p.has_mask != 0u && mask[bt] == 0.0;
}

@compute @workgroup_size(256)
fn rnn_backward_gates(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // The recurrent kernel is bound for rnn_backward_h; referenced so the layouts agree.
    _ = &rk_t;
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let bt = (i / n) * p.steps + p.t;
    let at = bt * n + i % n;
    var dh_t = dh[i];
    if p.has_dy_seq != 0u {
        dh_t += dy_seq[at];
    }
    dh[i] = dh_t;
    if masked(bt) {
        dz[at] = 0.0;
        return;
    }
    let h = hseq[at];
    dz[at] = dh_t * (1.0 - h * h);
}

@compute @workgroup_size(256)
fn rnn_backward_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // Bound for rnn_backward_gates; referenced so the layouts agree.
    _ = &hseq;
    _ = &dy_seq;
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let u = i % n;
    let bt = (i / n) * p.steps + p.t;
    if masked(bt) {
        return;
    }
    var s = 0.0;
    for (var k = 0u; k < n; k++) {
        s += dz[bt * n + k] * rk_t[k * n + u];
    }
    // with has_rdrop, the gradient reaches h(t-1) through its mask
    dh[i] = s * rdrop(0u, i / n, u);
}
