// Uses Params and p from recurrent.wgsl, product_t from recurrent_blocked_product.wgsl, and U,
// S, WG, GC, KC, PART_LEN, RK_CHIP_LEN, rk_t_at and load_rk_chip, which the host generates per
// units (src/ops/recurrent/blocked.rs); prepended.
// SimpleRNN backpropagation through the steps t_end - 1 down to t in one dispatch,
// row-blocked like simple_rnn_cell_blocked.wgsl: per step, invocation (u, 0) computes
// dz(t) = dh (1 - h(t)²) of unit u for the four rows (dy(t) added to dh first when the whole
// sequence is an output), then dh(t - 1) = dz(t) · Rᵀ is split over the S invocations of each
// unit (product_t). A masked row writes zeros to dz and passes dh through unchanged.
// dz: [B, T, U], mask: [B, T], dh: [B, U] (the running gradient, read at the start and
// written at the end), rk_t: [U, U], hseq, dy_seq: [B, T, U].

@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk_t: array<f32>;
@group(0) @binding(5) var<storage, read> hseq: array<f32>;
@group(0) @binding(6) var<storage, read> dy_seq: array<f32>;

const ROWS: u32 = 4u;

@compute @workgroup_size(WG)
fn rnn_backward_blocked(
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
    // dh(t - 1) = (dz(t) · Rᵀ) ⊙ r: unit u's mask
    let own = rdrop_gates(b0, 1u, u);
    var dh_t = vec4<f32>(0.0);
    if s == 0u {
        for (var r = 0u; r < ROWS; r++) {
            if live[r] {
                dh_t[r] = dh[(b0 + r) * U + u];
            }
        }
    }
    for (var st = p.t_end; st > p.t; st--) {
        let t = st - 1u;
        // dz of unit u, one vec4 of rows; zero for rows that are masked or past the batch,
        // which keep their dh (carry[r]).
        var d = vec4<f32>(0.0);
        var carry = vec4<bool>(true);
        if s == 0u {
            for (var r = 0u; r < ROWS; r++) {
                if !live[r] {
                    continue;
                }
                let at = ((b0 + r) * p.steps + t) * U + u;
                if p.has_dy_seq != 0u {
                    dh_t[r] += dy_seq[at];
                }
                if p.has_mask != 0u && mask[(b0 + r) * p.steps + t] == 0.0 {
                    dz[at] = 0.0;
                    continue;
                }
                carry[r] = false;
                let h = hseq[at];
                d[r] = dh_t[r] * (1.0 - h * h);
                dz[at] = d[r];
            }
        }
        let d3 = array<vec4<f32>, 3>(d, vec4<f32>(0.0), vec4<f32>(0.0));
        let sum = product_t(d3, 0u, 1u, u, s, own);
        if s == 0u {
            dh_t = select(sum, dh_t, carry);
        }
    }
    if s == 0u {
        for (var r = 0u; r < ROWS; r++) {
            if live[r] {
                dh[(b0 + r) * U + u] = dh_t[r];
            }
        }
    }
}
