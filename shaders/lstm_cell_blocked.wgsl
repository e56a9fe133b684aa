// Uses sigmoid and tanh_f32 from math.wgsl, Params and p from recurrent.wgsl, and U, S, WG, CH,
// PART_LEN, RK_CHIP_LEN, rk_at and load_rk_chip, which the host generates per units
// (src/ops/lstm_cell/blocked.rs); prepended.
// The LSTM forward over steps t..t_end in one dispatch, row-blocked: one workgroup per block
// of ROWS = 4 batch rows (h of the block is one vec4 per unit), U * S invocations. Invocation
// (u, s) takes unit u's four gate columns over the slice s of the recurrent kernel's rows
// (CH of them): each rk element it loads serves all four rows, into 4 gates x 4 rows = 16
// independent accumulators. The S slices' partial sums meet in workgroup memory and are added
// by invocation (u, 0) in the order s = 0, 1, .., S - 1 (the same result every run), which
// then updates unit u of the four rows. Rows past the batch compute on zeros and write
// nothing. A dispatch carries on from the state the one before left in hseq and cseq.
// xp: [B, T, 4U], rk: [U, 4U], mask: [B, T], hseq, cseq, hprev: [B, T, U], gates: [B, T, 4U].
// With has_rdrop gate g's product reads h(t - 1) ⊙ rdrop(g, b, ·) (recurrent.wgsl): the masks
// of the block's rows are read where they are used (a separate loop, so none is read
// without).

@group(0) @binding(1) var<storage, read> xp: array<f32>;
@group(0) @binding(2) var<storage, read> rk: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(5) var<storage, read_write> cseq: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;

const ROWS: u32 = 4u;
const G4: u32 = 4u * U;

// Gate g's recurrent dropout masks of the block's rows at unit j.
fn rows_rdrop(g: u32, b0: u32, j: u32) -> vec4<f32> {
    return vec4<f32>(rdrop(g, b0, j), rdrop(g, b0 + 1u, j), rdrop(g, b0 + 2u, j), rdrop(g, b0 + 3u, j));
}

// h(t - 1) of the block's rows, unit j at h_sh[j]; the partial gate sums of slices 1..S - 1;
// the recurrent kernel itself where it fits (rk_at reads it there or from storage).
var<workgroup> h_sh: array<vec4<f32>, U>;
var<workgroup> part: array<array<vec4<f32>, 4>, PART_LEN>;
var<workgroup> rk_chip: array<f32, RK_CHIP_LEN>;

@compute @workgroup_size(WG)
fn lstm_forward_blocked(
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
    var c = vec4<f32>(0.0);
    if s == 0u {
        var h = vec4<f32>(0.0);
        for (var r = 0u; r < ROWS; r++) {
            if live[r] && p.t > 0u {
                let prev = ((b0 + r) * p.steps + p.t - 1u) * U + u;
                h[r] = hseq[prev];
                c[r] = cseq[prev];
            } else if live[r] && p.has_init != 0u {
                // the initial state the host left in step 0 of hprev and cseq
                let first = (b0 + r) * p.steps * U + u;
                h[r] = hprev[first];
                c[r] = cseq[first];
            }
        }
        h_sh[u] = h;
    }
    workgroupBarrier();
    let j0 = s * CH;
    let j1 = min(j0 + CH, U);
    for (var t = p.t; t < p.t_end; t++) {
        var a_i = vec4<f32>(0.0);
        var a_f = vec4<f32>(0.0);
        var a_g = vec4<f32>(0.0);
        var a_o = vec4<f32>(0.0);
        if p.has_rdrop != 0u {
            for (var j = j0; j < j1; j++) {
                let h = h_sh[j];
                let base = j * G4 + u;
                a_i += h * rows_rdrop(0u, b0, j) * rk_at(base);
                a_f += h * rows_rdrop(1u, b0, j) * rk_at(base + U);
                a_g += h * rows_rdrop(2u, b0, j) * rk_at(base + 2u * U);
                a_o += h * rows_rdrop(3u, b0, j) * rk_at(base + 3u * U);
            }
        } else {
            for (var j = j0; j < j1; j++) {
                let h = h_sh[j];
                let base = j * G4 + u;
                a_i += h * rk_at(base);
                a_f += h * rk_at(base + U);
                a_g += h * rk_at(base + 2u * U);
                a_o += h * rk_at(base + 3u * U);
            }
        }
        if s > 0u {
            part[(s - 1u) * U + u] = array<vec4<f32>, 4>(a_i, a_f, a_g, a_o);
        }
        workgroupBarrier();
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                let pq = part[q * U + u];
                a_i += pq[0];
                a_f += pq[1];
                a_g += pq[2];
                a_o += pq[3];
            }
            let h_prev = h_sh[u];
            var h = h_prev;
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let bt = (b0 + r) * p.steps + t;
                let g_base = bt * G4 + u;
                hprev[bt * U + u] = h_prev[r];
                if p.has_mask != 0u && mask[bt] == 0.0 {
                    for (var g = 0u; g < 4u; g++) {
                        gates[g_base + g * U] = 0.0;
                    }
                } else {
                    let z = vec4<f32>(
                        xp[g_base] + a_i[r],
                        xp[g_base + U] + a_f[r],
                        xp[g_base + 2u * U] + a_g[r],
                        xp[g_base + 3u * U] + a_o[r],
                    );
                    let ig = sigmoid(z[0]);
                    let fg = sigmoid(z[1]);
                    let gg = tanh_f32(z[2]);
                    let og = sigmoid(z[3]);
                    c[r] = fg * c[r] + ig * gg;
                    h[r] = og * tanh_f32(c[r]);
                    gates[g_base] = ig;
                    gates[g_base + U] = fg;
                    gates[g_base + 2u * U] = gg;
                    gates[g_base + 3u * U] = og;
                }
                hseq[bt * U + u] = h[r];
                cseq[bt * U + u] = c[r];
            }
            h_sh[u] = h;
        }
        workgroupBarrier();
    }
}
