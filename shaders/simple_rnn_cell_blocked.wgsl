// Uses tanh_f32 from math.wgsl, Params and p from recurrent.wgsl, and U, S, WG, CH, PART_LEN,
// RK_CHIP_LEN, rk_at and load_rk_chip, which the host generates per units
// (src/ops/recurrent/blocked.rs); prepended.
// The SimpleRNN forward, h = tanh(xp + h(t-1) · R), over steps t..t_end in one dispatch,
// row-blocked as lstm_cell_blocked.wgsl: one workgroup per block of ROWS = 4 batch rows (h of
// the block is one vec4 per unit), U * S invocations; invocation (u, s) takes unit u's column
// over the slice s of the recurrent kernel's rows (CH of them), each rk element serving all
// four rows. The S partial sums meet in workgroup memory and (u, 0) adds them in the order
// s = 0, 1, .. (the same result every run), then updates unit u of the four rows. Rows past
// the batch compute on zeros and write nothing; a masked step keeps h. A dispatch carries on
// from the state the one before left in hseq.
// xp: [B, T, U], rk: [U, U], mask: [B, T], hseq, hprev: [B, T, U].

@group(0) @binding(1) var<storage, read> xp: array<f32>;
@group(0) @binding(2) var<storage, read> rk: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(5) var<storage, read_write> hprev: array<f32>;

const ROWS: u32 = 4u;

var<workgroup> h_sh: array<vec4<f32>, U>;
var<workgroup> part: array<vec4<f32>, PART_LEN>;
var<workgroup> rk_chip: array<f32, RK_CHIP_LEN>;

@compute @workgroup_size(WG)
fn rnn_forward_blocked(
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
    if s == 0u {
        // h before step p.t: the step before's, or the initial h the host left in hprev
        var h = vec4<f32>(0.0);
        for (var r = 0u; r < ROWS; r++) {
            if live[r] && p.t > 0u {
                h[r] = hseq[((b0 + r) * p.steps + p.t - 1u) * U + u];
            } else if live[r] && p.has_init != 0u {
                h[r] = hprev[(b0 + r) * p.steps * U + u];
            }
        }
        h_sh[u] = h;
    }
    workgroupBarrier();
    let j0 = s * CH;
    let j1 = min(j0 + CH, U);
    for (var t = p.t; t < p.t_end; t++) {
        var a = vec4<f32>(0.0);
        if p.has_rdrop == 0u {
            for (var j = j0; j < j1; j++) {
                a += h_sh[j] * rk_at(j * U + u);
            }
        } else {
            // the product reads h(t - 1) ⊙ r
            for (var j = j0; j < j1; j++) {
                a += (h_sh[j] * rdrop_rows(b0, 0u, j)) * rk_at(j * U + u);
            }
        }
        if s > 0u {
            part[(s - 1u) * U + u] = a;
        }
        workgroupBarrier();
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                a += part[q * U + u];
            }
            let h_prev = h_sh[u];
            var h = h_prev;
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let bt = (b0 + r) * p.steps + t;
                hprev[bt * U + u] = h_prev[r];
                if p.has_mask == 0u || mask[bt] != 0.0 {
                    h[r] = tanh_f32(xp[bt * U + u] + a[r]);
                }
                hseq[bt * U + u] = h[r];
            }
            h_sh[u] = h;
        }
        workgroupBarrier();
    }
}
