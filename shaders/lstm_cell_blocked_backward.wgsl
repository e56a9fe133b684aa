// Uses tanh_f32 from math.wgsl, Params and p from recurrent.wgsl, and U, S, WG, GC, KC, PART_LEN,
// RK_CHIP_LEN, rk_t_at and load_rk_chip, which the host generates per units
// (src/ops/lstm_cell/blocked.rs); prepended.
// Backpropagation through the steps t_end - 1 down to t in one dispatch, row-blocked like
// lstm_cell_blocked.wgsl: a workgroup per block of ROWS = 4 batch rows, U * S invocations.
// Per step, invocation (u, 0) computes unit u's four gate gradients for the four rows (dh and
// dc stay in its registers) into dz; then dh(t - 1) = dz(t) · R^T, a 4U-long dot product per
// unit, is split over the S invocations (j, s) of unit j, GC gates' worth of dz (all rows) at a
// time in workgroup memory: invocation (j, s) takes KC of the chunk's terms with four
// independent vec4 accumulators (16 sums), each rk_t element serving all four rows. The S
// partial sums meet in workgroup memory and (j, 0) adds them in the order s = 0, 1, .., S - 1
// (the same result every run). A masked row writes zeros to dz and passes dh and dc through.
// dz: [B, T, 4U], mask: [B, T], dh, dc: [B, U] (the running gradients, read at the start and
// written at the end), rk_t: [4U, U], gates: [B, T, 4U], cseq, dy_seq: [B, T, U]. With
// has_init, c0 [B, U] follows dc's running gradient (as in lstm_cell_backward.wgsl). With
// has_rdrop each term of gate g is times rdrop(g, b, u) (recurrent.wgsl), unit u's masks of
// the block's rows held in registers for the whole dispatch (they do not change with t).

@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk_t: array<f32>;
@group(0) @binding(5) var<storage, read> gates: array<f32>;
@group(0) @binding(6) var<storage, read> cseq: array<f32>;
@group(0) @binding(7) var<storage, read_write> dc: array<f32>;
@group(0) @binding(8) var<storage, read> dy_seq: array<f32>;

const ROWS: u32 = 4u;
const G4: u32 = 4u * U;

// dz of GC gates (k = g U + u within the chunk), one vec4 of rows each; the partial sums of
// slices 1..S - 1; the transposed recurrent kernel where it fits (rk_t_at reads it).
var<workgroup> dz_sh: array<vec4<f32>, GC * U>;
var<workgroup> part: array<vec4<f32>, PART_LEN>;
var<workgroup> rk_chip: array<f32, RK_CHIP_LEN>;

// Unit u's four gate gradients at bt, from the incoming dh_t and dc_t; w is the dc carried to
// step t - 1.
fn cell_backward(bt: u32, t: u32, u: u32, dh_t: f32, dc_t: f32) -> array<f32, 5> {
    let g_base = bt * G4 + u;
    let ig = gates[g_base];
    let fg = gates[g_base + U];
    let gg = gates[g_base + 2u * U];
    let og = gates[g_base + 3u * U];
    let c = cseq[bt * U + u];
    var c_prev = 0.0;
    if t > 0u {
        c_prev = cseq[(bt - 1u) * U + u];
    } else if p.has_init != 0u {
        c_prev = dc[(p.batch + bt / p.steps) * U + u];
    }
    let tc = tanh_f32(c);
    let d_o = dh_t * tc;
    let dct = dc_t + dh_t * og * (1.0 - tc * tc);
    return array<f32, 5>(
        dct * gg * ig * (1.0 - ig),
        dct * c_prev * fg * (1.0 - fg),
        dct * ig * (1.0 - gg * gg),
        d_o * og * (1.0 - og),
        dct * fg,
    );
}

@compute @workgroup_size(WG)
fn lstm_backward_blocked(
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
    let live = vec4<bool>(b0 < p.batch, b0 + 1u < p.batch, b0 + 2u < p.batch, b0 + 3u < p.batch);
    load_rk_chip(k);
    var rm = array<vec4<f32>, 4>();
    for (var g = 0u; g < 4u; g++) {
        for (var r = 0u; r < ROWS; r++) {
            rm[g][r] = select(1.0, rdrop(g, b0 + r, u), live[r]);
        }
    }
    var dh_t = vec4<f32>(0.0);
    var dc_t = vec4<f32>(0.0);
    if s == 0u {
        for (var r = 0u; r < ROWS; r++) {
            if live[r] {
                dh_t[r] = dh[(b0 + r) * U + u];
                dc_t[r] = dc[(b0 + r) * U + u];
            }
        }
    }
    let lo = s * KC;
    let hi = min(lo + KC, GC * U);
    for (var st = p.t_end; st > p.t; st--) {
        let t = st - 1u;
        // Unit u's gate gradients (i, f, g, o), one vec4 of rows each; zero for rows that are
        // masked or past the batch, which keep their dh (carry[r]).
        var d = array<vec4<f32>, 4>();
        var carry = vec4<bool>(true);
        if s == 0u {
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let bt = (b0 + r) * p.steps + t;
                if p.has_dy_seq != 0u {
                    dh_t[r] += dy_seq[bt * U + u];
                }
                let g_base = bt * G4 + u;
                if p.has_mask != 0u && mask[bt] == 0.0 {
                    for (var g = 0u; g < 4u; g++) {
                        dz[g_base + g * U] = 0.0;
                    }
                    continue;
                }
                carry[r] = false;
                let grads = cell_backward(bt, t, u, dh_t[r], dc_t[r]);
                dc_t[r] = grads[4];
                for (var g = 0u; g < 4u; g++) {
                    dz[g_base + g * U] = grads[g];
                    d[g][r] = grads[g];
                }
            }
        }
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        for (var g0 = 0u; g0 < 4u; g0 += GC) {
            if s == 0u {
                for (var g = 0u; g < GC; g++) {
                    dz_sh[g * U + u] = d[g0 + g];
                }
            }
            workgroupBarrier();
            // rk_t's row for the chunk's term q is g0 U + q.
            let rk_base = g0 * U * U + u;
            var q = lo;
            if p.has_rdrop != 0u {
                for (; q < hi; q++) {
                    acc0 += dz_sh[q] * rk_t_at(rk_base + q * U) * rm[g0 + q / U];
                }
            }
            for (; q + 4u <= hi; q += 4u) {
                acc0 += dz_sh[q] * rk_t_at(rk_base + q * U);
                acc1 += dz_sh[q + 1u] * rk_t_at(rk_base + (q + 1u) * U);
                acc2 += dz_sh[q + 2u] * rk_t_at(rk_base + (q + 2u) * U);
                acc3 += dz_sh[q + 3u] * rk_t_at(rk_base + (q + 3u) * U);
            }
            for (; q < hi; q++) {
                acc0 += dz_sh[q] * rk_t_at(rk_base + q * U);
            }
            workgroupBarrier();
        }
        var sum = (acc0 + acc1) + (acc2 + acc3);
        if s > 0u {
            part[(s - 1u) * U + u] = sum;
        }
        workgroupBarrier();
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                sum += part[q * U + u];
            }
            dh_t = select(sum, dh_t, carry);
        }
    }
    if s == 0u {
        for (var r = 0u; r < ROWS; r++) {
            if live[r] {
                dh[(b0 + r) * U + u] = dh_t[r];
                dc[(b0 + r) * U + u] = dc_t[r];
            }
        }
    }
}
