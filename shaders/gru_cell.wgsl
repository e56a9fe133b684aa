// Uses sigmoid and tanh_f32 from math.wgsl and Params, p and index from recurrent.wgsl, which
// the host prepends.
// One GRU time step (Keras's GRU, gates z, r, h), fused, one invocation per (b, u); the host
// dispatches it once per step. A masked step keeps h (and hn) unchanged, gates 0.
// reset_after (Keras's default), one dispatch, gru_step:
//   hz = h(t-1) · R + rb, z = σ(xp_z + hz_z), r = σ(xp_r + hz_r), hn = hz_h,
//   n = tanh(xp_h + r * hn), h = z * h(t-1) + (1 - z) * n;
// reset before the product (reset_after=False), two dispatches, gru_step_reset then
// gru_step_candidate (the second needs every unit's r * h(t-1)):
//   z, r as above without rb, hn = r * h(t-1), n = tanh(xp_h + hn · R_h), h as above.
// xp: [B, T, 3U] (x · kernel + input bias), rk: [U, 3U], rb: [3U] (the recurrent bias; read
// by gru_step only), mask: [B, T] (read only when has_mask), hseq: [B, T, U] (h after each
// step), gates: [B, T, 3U] (z, r, n after their activations), hprev: [B, T, U] (h before each
// step), hn: [B, T, U] (as above: what the backward pass needs of n's recurrent term).
// With has_rdrop gate k's recurrent product reads h(t-1) ⊙ rdrop(k, b, ·) (recurrent.wgsl),
// and hn = r * (h(t-1) ⊙ rdrop(2, b, ·)) before the product; z * h(t-1) reads it undropped.

@group(0) @binding(1) var<storage, read> xp: array<f32>;
@group(0) @binding(2) var<storage, read> rk: array<f32>;
@group(0) @binding(3) var<storage, read> rb: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;
@group(0) @binding(8) var<storage, read_write> hn: array<f32>;

// Whether the state before this step is the initial one: at step 0 with has_init, h0, which
// the host left in hprev's step 0.
fn from_init() -> bool {
    return p.t == 0u && p.has_init != 0u;
}

// h(t - 1) of (b, u), also written to hprev (where h0 already is, and stays: the other units
// read it).
fn previous_h(bt: u32, u: u32) -> f32 {
    var h_prev = 0.0;
    if p.t > 0u {
        h_prev = hseq[(bt - 1u) * p.units + u];
    } else if from_init() {
        h_prev = hprev[bt * p.units + u];
    }
    if !from_init() {
        hprev[bt * p.units + u] = h_prev;
    }
    return h_prev;
}

// A masked step: h and hn carried over, gates 0. Returns whether the step is masked.
fn carried(bt: u32, u: u32, h_prev: f32) -> bool {
    if p.has_mask == 0u || mask[bt] != 0.0 {
        return false;
    }
    let n = p.units;
    var hn_prev = 0.0;
    if p.t > 0u {
        hn_prev = hn[(bt - 1u) * n + u];
    }
    hseq[bt * n + u] = h_prev;
    hn[bt * n + u] = hn_prev;
    for (var k = 0u; k < 3u; k++) {
        gates[bt * 3u * n + k * n + u] = 0.0;
    }
    return true;
}

// h(t - 1) · R for gate columns k < count of unit u (0 at step 0), gate k's h(t - 1) dropped
// by its mask.
fn recurrent(bt: u32, u: u32, count: u32) -> vec3<f32> {
    let b = bt / p.steps;
    var acc = vec3<f32>(0.0);
    if p.t == 0u && !from_init() {
        return acc;
    }
    let n = p.units;
    for (var j = 0u; j < n; j++) {
        var hj = 0.0;
        if p.t > 0u {
            hj = hseq[(bt - 1u) * n + j];
        } else {
            hj = hprev[bt * n + j];
        }
        let r_base = j * 3u * n + u;
        for (var k = 0u; k < count; k++) {
            acc[k] += hj * rdrop(k, b, j) * rk[r_base + k * n];
        }
    }
    return acc;
}

@compute @workgroup_size(256)
fn gru_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    let h_prev = previous_h(bt, u);
    if carried(bt, u, h_prev) {
        return;
    }
    let g = bt * 3u * n;
    let hz = recurrent(bt, u, 3u) + vec3<f32>(rb[u], rb[n + u], rb[2u * n + u]);
    let z = sigmoid(xp[g + u] + hz[0]);
    let r = sigmoid(xp[g + n + u] + hz[1]);
    let cand = tanh_f32(xp[g + 2u * n + u] + r * hz[2]);
    gates[g + u] = z;
    gates[g + n + u] = r;
    gates[g + 2u * n + u] = cand;
    hn[bt * n + u] = hz[2];
    hseq[bt * n + u] = z * h_prev + (1.0 - z) * cand;
}

@compute @workgroup_size(256)
fn gru_step_reset(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // The recurrent bias is bound for gru_step; referenced so the layouts agree.
    _ = &rb;
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    let h_prev = previous_h(bt, u);
    if carried(bt, u, h_prev) {
        return;
    }
    let g = bt * 3u * n;
    let hz = recurrent(bt, u, 2u);
    let z = sigmoid(xp[g + u] + hz[0]);
    let r = sigmoid(xp[g + n + u] + hz[1]);
    gates[g + u] = z;
    gates[g + n + u] = r;
    hn[bt * n + u] = r * (h_prev * rdrop(2u, b, u));
}

@compute @workgroup_size(256)
fn gru_step_candidate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    _ = &rb;
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    if p.has_mask != 0u && mask[bt] == 0.0 {
        return;
    }
    let g = bt * 3u * n;
    var s = xp[g + 2u * n + u];
    for (var j = 0u; j < n; j++) {
        s += hn[bt * n + j] * rk[j * 3u * n + 2u * n + u];
    }
    let cand = tanh_f32(s);
    let z = gates[g + u];
    gates[g + 2u * n + u] = cand;
    hseq[bt * n + u] = z * hprev[bt * n + u] + (1.0 - z) * cand;
}
