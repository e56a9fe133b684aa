// Uses sigmoid and tanh_f32 from math.wgsl, Params and p from recurrent.wgsl, and U, S, WG, CH,
// PART_LEN, RK_CHIP_LEN, rk_at and load_rk_chip, which the host generates per units
// (src/ops/recurrent/blocked.rs); prepended. One of the two entry points' files follows.
// The GRU forward (gates z, r, h) over steps t..t_end in one dispatch, row-blocked as
// lstm_cell_blocked.wgsl: one workgroup per block of ROWS = 4 batch rows (h of the block is one
// vec4 per unit), U * S invocations; invocation (u, s) takes unit u's gate columns over the
// slice s of the recurrent kernel's rows (CH of them), each rk element serving all four rows.
// The S partial sums meet in workgroup memory and (u, 0) adds them in the order s = 0, 1, ..
// (the same result every run), then updates unit u of the four rows (h, and hn, in its
// registers). Rows past the batch compute on zeros and write nothing. A dispatch carries on
// from the state the one before left in hseq and hn. The math is gru_cell.wgsl's:
// gru_forward_blocked (reset_after, gru_cell_blocked_after.wgsl), one product per step:
//   hz = h(t-1) · R + rb, z = σ(xp_z + hz_z), r = σ(xp_r + hz_r), hn = hz_h,
//   n = tanh(xp_h + r * hn), h = z * h(t-1) + (1 - z) * n;
// gru_forward_blocked_reset (reset before the product, gru_cell_blocked_reset.wgsl), two
//   products per step: z and r from h(t-1) · R_zr, then hn = r * h(t-1) of every unit in
//   workgroup memory, n = tanh(xp_h + hn · R_h).
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

// h(t - 1) of the block's rows, unit j at h_sh[j]; the recurrent kernel itself where it fits.
var<workgroup> h_sh: array<vec4<f32>, U>;
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

