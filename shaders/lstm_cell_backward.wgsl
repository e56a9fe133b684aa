// Uses tanh_f32 from math.wgsl and Params, p and index from recurrent.wgsl, which the host
// prepends.
// Backpropagation through time in two dispatches per step (t descending):
// lstm_backward_gates, per (b, u): adds dy(t) to dh when the whole sequence is an output,
//   then dz(t) = gate pre-activation gradients (0 at masked steps) and dc <- dc(t - 1);
// lstm_backward_h, per (b, u): dh <- dz(t) · R^T, the gradient reaching h(t - 1) (a masked
//   step passes dh through unchanged, as its forward passed h through); with has_rdrop,
//   dh <- Σ_g (dz_g(t) · R_gᵀ) ⊙ rdrop(g, b, ·);
// (or lstm_cell_blocked_backward.wgsl: the steps t_end - 1 down to t in one dispatch).
// dz: [B, T, 4U], mask: [B, T], dh, dc: [B, U] (the running gradients), rk_t: [4U, U] (the
// recurrent kernel transposed, so that neighbouring units read neighbouring addresses),
// gates: [B, T, 4U] (post-activation i, f, g, o), cseq: [B, T, U], dy_seq: [B, T, U].
// With has_init, dc is [2, B, U]: the running gradient, then c0 (the initial c, which step 0
// reads as its c(t - 1); no binding is left for a buffer of its own within 8 storage buffers).

@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk_t: array<f32>;
@group(0) @binding(5) var<storage, read> gates: array<f32>;
@group(0) @binding(6) var<storage, read> cseq: array<f32>;
@group(0) @binding(7) var<storage, read_write> dc: array<f32>;
@group(0) @binding(8) var<storage, read> dy_seq: array<f32>;

fn masked(bt: u32) -> bool {
    return p.has_mask != 0u && mask[bt] == 0.0;
}

// One unit's step backward: from the incoming dh and dc, the gates'
// pre-activation gradients (i, f, g, o) and the dc carried to step t - 1.
struct CellGrads {
    dz: vec4<f32>,
    dc_prev: f32,
}

fn cell_backward(bt: u32, t: u32, u: u32, dh_t: f32, dc_t: f32) -> CellGrads {
    let n = p.units;
    let g_base = bt * 4u * n;
    let ig = gates[g_base + u];
    let fg = gates[g_base + n + u];
    let gg = gates[g_base + 2u * n + u];
    let og = gates[g_base + 3u * n + u];
    let c = cseq[bt * n + u];
    var c_prev = 0.0;
    if t > 0u {
        c_prev = cseq[(bt - 1u) * n + u];
    } else if p.has_init != 0u {
        c_prev = dc[(p.batch + bt / p.steps) * n + u];
    }
    let tc = tanh_f32(c);
    let d_o = dh_t * tc;
    let dct = dc_t + dh_t * og * (1.0 - tc * tc);
    let d_i = dct * gg;
    let d_g = dct * ig;
    let d_f = dct * c_prev;
    let dz = vec4<f32>(
        d_i * ig * (1.0 - ig),
        d_f * fg * (1.0 - fg),
        d_g * (1.0 - gg * gg),
        d_o * og * (1.0 - og),
    );
    return CellGrads(dz, dct * fg);
}

@compute @workgroup_size(256)
fn lstm_backward_gates(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // The recurrent kernel is bound for lstm_backward_h; referenced so the layouts agree.
    _ = &rk_t;
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
    let grads = cell_backward(bt, p.t, u, dh_t, dc[i]);
    dc[i] = grads.dc_prev;
    for (var k = 0u; k < 4u; k++) {
        dz[g_base + k * n + u] = grads.dz[k];
    }
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
    var s = 0.0;
    for (var g = 0u; g < 4u; g++) {
        var sg = 0.0;
        for (var k = g * n; k < (g + 1u) * n; k++) {
            sg += dz[g_base + k] * rk_t[k * n + u];
        }
        s += sg * rdrop(g, b, u);
    }
    dh[i] = s;
}
