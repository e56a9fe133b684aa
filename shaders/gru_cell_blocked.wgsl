// Uses sigmoid and tanh_f32 from math.wgsl, Params and p from recurrent.wgsl, and U, S, WG, CH,
// PART_LEN, RK_CHIP_LEN, rk_at and load_rk_chip, which the host generates per units
// (src/ops/recurrent/blocked.rs); prepended.
// The GRU forward (gates z, r, h) over steps t..t_end in one dispatch, row-blocked as
// lstm_cell_blocked.wgsl: one workgroup per block of ROWS = 4 batch rows (h of the block is one
// vec4 per unit), U * S invocations; invocation (u, s) takes unit u's gate columns over the
// slice s of the recurrent kernel's rows (CH of them), each rk element serving all four rows.
// The S partial sums meet in workgroup memory and (u, 0) adds them in the order s = 0, 1, ..
// (the same result every run), then updates unit u of the four rows (h, and hn, in its
// registers). Rows past the batch compute on zeros and write nothing. A dispatch carries on
// from the state the one before left in hseq and hn. The math is gru_cell.wgsl's:
// gru_forward_blocked (reset_after), one product per step:
//   hz = h(t-1) · R + rb, z = σ(xp_z + hz_z), r = σ(xp_r + hz_r), hn = hz_h,
//   n = tanh(xp_h + r * hn), h = z * h(t-1) + (1 - z) * n;
// gru_forward_blocked_reset (reset before the product), two products per step: z and r from
//   h(t-1) · R_zr, then hn = r * h(t-1) of every unit in workgroup memory, n = tanh(xp_h +
//   hn · R_h).
// A masked step keeps h and hn, gates 0.
// xp: [B, T, 3U], rk: [U, 3U], rb: [3U], mask: [B, T], hseq, hprev, hn: [B, T, U],
// gates: [B, T, 3U].

@group(0) @binding(1) var<storage, read> xp: array<f32>;
@group(0) @binding(2) var<storage, read> rk: array<f32>;
@group(0) @binding(3) var<storage, read> rb: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;
@group(0) @binding(8) var<storage, read_write> hn: array<f32>;

const ROWS: u32 = 4u;
const G3: u32 = 3u * U;

// h(t - 1) of the block's rows, unit j at h_sh[j]; before the product, r ⊙ h(t - 1) too; the
// partial gate sums of slices 1..S - 1; the recurrent kernel itself where it fits.
var<workgroup> h_sh: array<vec4<f32>, U>;
var<workgroup> hn_sh: array<vec4<f32>, U>;
var<workgroup> part: array<array<vec4<f32>, 3>, PART_LEN>;
// gru_forward_blocked_reset's partial sums: z and r, then (in [0]) the candidate's.
var<workgroup> part2: array<array<vec4<f32>, 2>, PART_LEN>;
var<workgroup> rk_chip: array<f32, RK_CHIP_LEN>;

// Which of the block's rows are in the batch.
fn live_rows(b0: u32) -> vec4<bool> {
    return vec4<bool>(b0 < p.batch, b0 + 1u < p.batch, b0 + 2u < p.batch, b0 + 3u < p.batch);
}

// Unit u's h and hn before step p.t for the block's live rows: the step before's, or at step 0
// the initial h the host left in step 0 of hprev (has_init) and hn 0.
fn start_state(b0: u32, u: u32, live: vec4<bool>) -> array<vec4<f32>, 2> {
    var h = vec4<f32>(0.0);
    var n = vec4<f32>(0.0);
    for (var r = 0u; r < ROWS; r++) {
        if live[r] && p.t > 0u {
            let prev = ((b0 + r) * p.steps + p.t - 1u) * U + u;
            h[r] = hseq[prev];
            n[r] = hn[prev];
        } else if live[r] && p.has_init != 0u {
            h[r] = hprev[(b0 + r) * p.steps * U + u];
        }
    }
    return array<vec4<f32>, 2>(h, n);
}

fn masked(bt: u32) -> bool {
    return p.has_mask != 0u && mask[bt] == 0.0;
}

// A masked step of unit u at bt: gates 0 (h and hn are written by the caller).
fn zero_gates(bt: u32, u: u32) {
    for (var g = 0u; g < 3u; g++) {
        gates[bt * G3 + g * U + u] = 0.0;
    }
}

@compute @workgroup_size(WG)
fn gru_forward_blocked(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) k: u32,
) {
    let b0 = (wid.x + wid.y * nwg.x) * ROWS;
    // The same for the whole workgroup, so no barrier below is skipped by part of it.
    if b0 >= p.batch {
        return;
    }
    let u = k % U;
    let s = k / U;
    let live = live_rows(b0);
    load_rk_chip(k);
    var hn_c = vec4<f32>(0.0);
    if s == 0u {
        let st = start_state(b0, u, live);
        h_sh[u] = st[0];
        hn_c = st[1];
    }
    workgroupBarrier();
    let j0 = s * CH;
    let j1 = min(j0 + CH, U);
    for (var t = p.t; t < p.t_end; t++) {
        var a_z = vec4<f32>(0.0);
        var a_r = vec4<f32>(0.0);
        var a_h = vec4<f32>(0.0);
        for (var j = j0; j < j1; j++) {
            let h = h_sh[j];
            let base = j * G3 + u;
            a_z += h * rk_at(base);
            a_r += h * rk_at(base + U);
            a_h += h * rk_at(base + 2u * U);
        }
        if s > 0u {
            part[(s - 1u) * U + u] = array<vec4<f32>, 3>(a_z, a_r, a_h);
        }
        workgroupBarrier();
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                let pq = part[q * U + u];
                a_z += pq[0];
                a_r += pq[1];
                a_h += pq[2];
            }
            let h_prev = h_sh[u];
            var h = h_prev;
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let bt = (b0 + r) * p.steps + t;
                let g_base = bt * G3 + u;
                hprev[bt * U + u] = h_prev[r];
                if masked(bt) {
                    zero_gates(bt, u);
                } else {
                    let z = sigmoid(xp[g_base] + a_z[r] + rb[u]);
                    let rg = sigmoid(xp[g_base + U] + a_r[r] + rb[U + u]);
                    hn_c[r] = a_h[r] + rb[2u * U + u];
                    let cand = tanh_f32(xp[g_base + 2u * U] + rg * hn_c[r]);
                    h[r] = z * h_prev[r] + (1.0 - z) * cand;
                    gates[g_base] = z;
                    gates[g_base + U] = rg;
                    gates[g_base + 2u * U] = cand;
                }
                hseq[bt * U + u] = h[r];
                hn[bt * U + u] = hn_c[r];
            }
            h_sh[u] = h;
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn gru_forward_blocked_reset(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) k: u32,
) {
    // The recurrent bias is bound for gru_forward_blocked; referenced so the layouts agree.
    _ = &rb;
    let b0 = (wid.x + wid.y * nwg.x) * ROWS;
    if b0 >= p.batch {
        return;
    }
    let u = k % U;
    let s = k / U;
    let live = live_rows(b0);
    load_rk_chip(k);
    var hn_c = vec4<f32>(0.0);
    if s == 0u {
        let st = start_state(b0, u, live);
        h_sh[u] = st[0];
        hn_c = st[1];
    }
    workgroupBarrier();
    let j0 = s * CH;
    let j1 = min(j0 + CH, U);
    for (var t = p.t; t < p.t_end; t++) {
        var a_z = vec4<f32>(0.0);
        var a_r = vec4<f32>(0.0);
        for (var j = j0; j < j1; j++) {
            let h = h_sh[j];
            let base = j * G3 + u;
            a_z += h * rk_at(base);
            a_r += h * rk_at(base + U);
        }
        if s > 0u {
            part2[(s - 1u) * U + u] = array<vec4<f32>, 2>(a_z, a_r);
        }
        workgroupBarrier();
        // (u, 0) keeps z and h(t - 1) for the candidate, and shares r ⊙ h(t - 1).
        var z = vec4<f32>(0.0);
        let h_prev = h_sh[u];
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                let pq = part2[q * U + u];
                a_z += pq[0];
                a_r += pq[1];
            }
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let bt = (b0 + r) * p.steps + t;
                if masked(bt) {
                    continue;
                }
                let g_base = bt * G3 + u;
                z[r] = sigmoid(xp[g_base] + a_z[r]);
                let rg = sigmoid(xp[g_base + U] + a_r[r]);
                hn_c[r] = rg * h_prev[r];
                gates[g_base] = z[r];
                gates[g_base + U] = rg;
            }
            // A masked row's lane carries its hn: finite, and its candidate is not used.
            hn_sh[u] = hn_c;
        }
        workgroupBarrier();
        var a_h = vec4<f32>(0.0);
        for (var j = j0; j < j1; j++) {
            a_h += hn_sh[j] * rk_at(j * G3 + 2u * U + u);
        }
        if s > 0u {
            part2[(s - 1u) * U + u][0] = a_h;
        }
        workgroupBarrier();
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                a_h += part2[q * U + u][0];
            }
            var h = h_prev;
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let bt = (b0 + r) * p.steps + t;
                let g_base = bt * G3 + u;
                hprev[bt * U + u] = h_prev[r];
                if masked(bt) {
                    zero_gates(bt, u);
                } else {
                    let cand = tanh_f32(xp[g_base + 2u * U] + a_h[r]);
                    h[r] = z[r] * h_prev[r] + (1.0 - z[r]) * cand;
                    gates[g_base + 2u * U] = cand;
                }
                hseq[bt * U + u] = h[r];
                hn[bt * U + u] = hn_c[r];
            }
            h_sh[u] = h;
        }
        workgroupBarrier();
    }
}
