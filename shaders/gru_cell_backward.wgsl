// Uses Params, p and index from recurrent.wgsl, which the host prepends.
// GRU backpropagation through time, per step (t descending), one invocation per (b, u):
// reset_after: gru_backward_gates, then gru_backward_h;
// reset before the product: gru_backward_gates_reset, gru_backward_reset, gru_backward_h_reset.
// With da_z = dh (h(t-1) - n) z (1 - z) and da_n = dh (1 - z) (1 - n²):
//   reset_after:  da_r = da_n hn r (1 - r); dz = (da_z, da_r, da_n);
//                 dh(t-1) = dh z + (da_z, da_r, da_n r) · Rᵀ;
//   reset before: drh = da_n · R_hᵀ, da_r = drh h(t-1) r (1 - r); dz = (da_z, da_r, da_n);
//                 dh(t-1) = dh z + drh r + (da_z, da_r) · R_zrᵀ.
// With has_rdrop, gate g's terms of dh(t-1) through R (and drh r) are times rdrop(g, b, ·)
// (recurrent.wgsl), and h(t-1) in da_r is h(t-1) ⊙ rdrop(2, b, ·) (dh z reads it undropped).
// A masked step has dz 0 and passes dh through unchanged, as its forward passed h through.
// dz: [B, T, 3U] (the gradient of xp), mask: [B, T], dh: [B, U] (the running gradient),
// rk_t: [3U, U] (the recurrent kernel transposed: neighbouring units, neighbouring addresses),
// gates: [B, T, 3U] (z, r, n), hn, hprev: [B, T, U] (the forward's), dy_seq: [B, T, U].

@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk_t: array<f32>;
@group(0) @binding(5) var<storage, read> gates: array<f32>;
@group(0) @binding(6) var<storage, read> hn: array<f32>;
@group(0) @binding(7) var<storage, read> hprev: array<f32>;
@group(0) @binding(8) var<storage, read> dy_seq: array<f32>;

fn masked(bt: u32) -> bool {
    return p.has_mask != 0u && mask[bt] == 0.0;
}

// dh(t) (with dy(t) added, and stored back), then, unless the step is masked, da_z and da_n,
// the r column of dz for reset_after, and dh <- dh z.
fn gates_backward(i: u32, after: bool) {
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    var dh_t = dh[i];
    if p.has_dy_seq != 0u {
        dh_t += dy_seq[bt * n + u];
    }
    dh[i] = dh_t;
    let g = bt * 3u * n;
    if masked(bt) {
        for (var k = 0u; k < 3u; k++) {
            dz[g + k * n + u] = 0.0;
        }
        return;
    }
    let z = gates[g + u];
    let r = gates[g + n + u];
    let cand = gates[g + 2u * n + u];
    let h_prev = hprev[bt * n + u];
    let da_n = dh_t * (1.0 - z) * (1.0 - cand * cand);
    dz[g + u] = dh_t * (h_prev - cand) * z * (1.0 - z);
    dz[g + 2u * n + u] = da_n;
    if after {
        dz[g + n + u] = da_n * hn[bt * n + u] * r * (1.0 - r);
    }
    dh[i] = dh_t * z;
}

@compute @workgroup_size(256)
fn gru_backward_gates(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // The recurrent kernel is bound for the other entries; referenced so the layouts agree.
    _ = &rk_t;
    let i = index(gid, nwg);
    if i < p.batch * p.units {
        gates_backward(i, true);
    }
}

@compute @workgroup_size(256)
fn gru_backward_gates_reset(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    _ = &rk_t;
    let i = index(gid, nwg);
    if i < p.batch * p.units {
        gates_backward(i, false);
    }
}

// Reset before the product: drh = da_n · R_hᵀ for unit u, then da_r and dh += drh r.
@compute @workgroup_size(256)
fn gru_backward_reset(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    _ = &dy_seq;
    _ = &hn;
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
    let g = bt * 3u * n;
    var drh = 0.0;
    for (var k = 0u; k < n; k++) {
        drh += dz[g + 2u * n + k] * rk_t[(2u * n + k) * n + u];
    }
    let r = gates[g + n + u];
    let r_h = rdrop(2u, b, u);
    dz[g + n + u] = drh * (hprev[bt * n + u] * r_h) * r * (1.0 - r);
    dh[i] += drh * r * r_h;
}

// dh += dhz · Rᵀ, where dhz is dz in the z and r columns and, for reset_after, da_n r in the
// n column (before the product, n's gradient reached h(t-1) in gru_backward_reset).
fn h_backward(i: u32, after: bool) {
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    if masked(bt) {
        return;
    }
    let g = bt * 3u * n;
    var s_z = 0.0;
    for (var k = 0u; k < n; k++) {
        s_z += dz[g + k] * rk_t[k * n + u];
    }
    var s_r = 0.0;
    for (var k = n; k < 2u * n; k++) {
        s_r += dz[g + k] * rk_t[k * n + u];
    }
    var s = s_z * rdrop(0u, b, u) + s_r * rdrop(1u, b, u);
    if after {
        var s_h = 0.0;
        for (var k = 0u; k < n; k++) {
            s_h += dz[g + 2u * n + k] * gates[g + n + k] * rk_t[(2u * n + k) * n + u];
        }
        s += s_h * rdrop(2u, b, u);
    }
    dh[i] += s;
}

@compute @workgroup_size(256)
fn gru_backward_h(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // Bound for the other entries; referenced so the layouts agree.
    _ = &hn;
    _ = &hprev;
    _ = &dy_seq;
    let i = index(gid, nwg);
    if i < p.batch * p.units {
        h_backward(i, true);
    }
}

@compute @workgroup_size(256)
fn gru_backward_h_reset(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // Bound for the other entries; referenced so the layouts agree.
    _ = &hn;
    _ = &hprev;
    _ = &dy_seq;
    let i = index(gid, nwg);
    if i < p.batch * p.units {
        h_backward(i, false);
    }
}
