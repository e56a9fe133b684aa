// Uses sigmoid, tanh_f32 and log1p_pos from math.wgsl, which the host prepends.
// Backpropagation through one LSTM time step, in two dispatches per step (t descending):
// lstm_backward_gates, per (b, u): adds dy(t) to dh when the whole sequence is an output,
//   then dz(t) = gate pre-activation gradients (0 at masked steps) and dc <- dc(t - 1);
// lstm_backward_h, per (b, u): dh <- dz(t) · R^T, the gradient reaching h(t - 1) (a masked
//   step passes dh through unchanged, as its forward passed h through).
// dz: [B, T, 4U], mask: [B, T], dh, dc: [B, U] (the running gradients), rk: [U, 4U],
// gates: [B, T, 4U] (post-activation i, f, g, o), cseq: [B, T, U], dy_seq: [B, T, U].

struct Params {
    batch: u32,
    steps: u32,
    units: u32,
    t: u32,
    // Unused here: the forward's persistent kernel runs the steps t..t_end.
    t_end: u32,
    has_mask: u32,
    has_dy_seq: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk: array<f32>;
@group(0) @binding(5) var<storage, read> gates: array<f32>;
@group(0) @binding(6) var<storage, read> cseq: array<f32>;
@group(0) @binding(7) var<storage, read_write> dc: array<f32>;
@group(0) @binding(8) var<storage, read> dy_seq: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

fn masked(bt: u32) -> bool {
    return p.has_mask != 0u && mask[bt] == 0.0;
}

@compute @workgroup_size(256)
fn lstm_backward_gates(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // The recurrent kernel is bound for lstm_backward_h; referenced so the layouts agree.
    _ = &rk;
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    var dh_t = dh[i];
    if p.has_dy_seq != 0u {
        dh_t += dy_seq[bt * n + u];
    }
    dh[i] = dh_t;
    let g_base = bt * 4u * n;
    if masked(bt) {
        for (var k = 0u; k < 4u; k++) {
            dz[g_base + k * n + u] = 0.0;
        }
        return;
    }
    let ig = gates[g_base + u];
    let fg = gates[g_base + n + u];
    let gg = gates[g_base + 2u * n + u];
    let og = gates[g_base + 3u * n + u];
    let c = cseq[bt * n + u];
    var c_prev = 0.0;
    if p.t > 0u {
        c_prev = cseq[(bt - 1u) * n + u];
    }
    let tc = tanh_f32(c);
    let d_o = dh_t * tc;
    let dct = dc[i] + dh_t * og * (1.0 - tc * tc);
    let d_i = dct * gg;
    let d_g = dct * ig;
    let d_f = dct * c_prev;
    dc[i] = dct * fg;
    dz[g_base + u] = d_i * ig * (1.0 - ig);
    dz[g_base + n + u] = d_f * fg * (1.0 - fg);
    dz[g_base + 2u * n + u] = d_g * (1.0 - gg * gg);
    dz[g_base + 3u * n + u] = d_o * og * (1.0 - og);
}

@compute @workgroup_size(256)
fn lstm_backward_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    if masked(bt) {
        return;
    }
    let g_base = bt * 4u * n;
    let r_base = u * 4u * n;
    var s = 0.0;
    for (var k = 0u; k < 4u * n; k++) {
        s += dz[g_base + k] * rk[r_base + k];
    }
    dh[i] = s;
}
