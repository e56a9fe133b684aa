// Uses Params and p from recurrent.wgsl, product_t from recurrent_blocked_product.wgsl, and U,
// S, WG, GC, KC, PART_LEN, RK_CHIP_LEN, rk_t_at and load_rk_chip, which the host generates per
// units (src/ops/recurrent/blocked.rs); prepended. One of the two entry points' files follows.
// GRU backpropagation through the steps t_end - 1 down to t in one dispatch, row-blocked like
// gru_cell_blocked.wgsl: a workgroup per block of ROWS = 4 batch rows, U * S invocations.
// Per step, invocation (u, 0) computes unit u's gate gradients for the four rows (dh stays in
// its registers) into dz, then dh(t - 1) = dh z + dhz · Rᵀ, a product split over the S
// invocations of each unit (product_t). The math is gru_cell_backward.wgsl's, with
// da_z = dh (h(t-1) - n) z (1 - z) and da_n = dh (1 - z) (1 - n²):
// gru_backward_blocked (reset_after, gru_cell_blocked_backward_after.wgsl):
//   da_r = da_n hn r (1 - r); dz = (da_z, da_r, da_n); dhz = (da_z, da_r, da_n r), one
//   product over 3U terms;
// gru_backward_blocked_reset (reset before, gru_cell_blocked_backward_reset.wgsl):
//   drh = da_n · R_hᵀ (a first product, U terms), da_r = drh h(t-1) r (1 - r);
//   dz = (da_z, da_r, da_n); dh(t-1) = dh z + drh r + (da_z, da_r) · R_zrᵀ (a second, 2U
//   terms).
// A masked row writes zeros to dz and passes dh through unchanged.
// dz: [B, T, 3U], mask: [B, T], dh: [B, U] (the running gradient, read at the start and
// written at the end), rk_t: [3U, U], gates: [B, T, 3U] (z, r, n), hn, hprev, dy_seq:
// [B, T, U].

@group(0) @binding(1) var<storage, read_write> dz: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> dh: array<f32>;
@group(0) @binding(4) var<storage, read> rk_t: array<f32>;
@group(0) @binding(5) var<storage, read> gates: array<f32>;
@group(0) @binding(6) var<storage, read> hn: array<f32>;
@group(0) @binding(7) var<storage, read> hprev: array<f32>;
@group(0) @binding(8) var<storage, read> dy_seq: array<f32>;

const ROWS: u32 = 4u;
const G3: u32 = 3u * U;

// What (u, 0) knows of one step of unit u for the block's rows, before the products.
struct Step {
    // dh z, the part of dh(t - 1) that skips the recurrent kernel; the carried dh for rows
    // that are masked or past the batch.
    direct: vec4<f32>,
    // da_z, da_r (reset_after; 0 before the product, where it waits for drh) and da_n.
    da: array<vec4<f32>, 3>,
    // r and h(t - 1), for the second product before the product.
    r: vec4<f32>,
    h_prev: vec4<f32>,
    // rows whose dh passes through (masked or past the batch)
    carry: vec4<bool>,
}

// A step that passes dh_in through (what the unit's other invocations hold).
fn carried(dh_in: vec4<f32>) -> Step {
    return Step(dh_in, array<vec4<f32>, 3>(), vec4<f32>(0.0), vec4<f32>(0.0), vec4<bool>(true));
}

// Unit u's step t from the incoming dh_t (dy added here), writing dz but for da_r before the
// product.
fn step_backward(b0: u32, t: u32, u: u32, dh_in: vec4<f32>, after: bool) -> Step {
    var st = carried(dh_in);
    for (var r = 0u; r < ROWS; r++) {
        if b0 + r >= p.batch {
            continue;
        }
        let bt = (b0 + r) * p.steps + t;
        if p.has_dy_seq != 0u {
            st.direct[r] += dy_seq[bt * U + u];
        }
        let g_base = bt * G3 + u;
        if p.has_mask != 0u && mask[bt] == 0.0 {
            for (var g = 0u; g < 3u; g++) {
                dz[g_base + g * U] = 0.0;
            }
            continue;
        }
        st.carry[r] = false;
        let dh_t = st.direct[r];
        let z = gates[g_base];
        let rg = gates[g_base + U];
        let cand = gates[g_base + 2u * U];
        let h_prev = hprev[bt * U + u];
        st.da[0][r] = dh_t * (h_prev - cand) * z * (1.0 - z);
        st.da[2][r] = dh_t * (1.0 - z) * (1.0 - cand * cand);
        if after {
            st.da[1][r] = st.da[2][r] * hn[bt * U + u] * rg * (1.0 - rg);
            dz[g_base + U] = st.da[1][r];
        }
        dz[g_base] = st.da[0][r];
        dz[g_base + 2u * U] = st.da[2][r];
        st.direct[r] = dh_t * z;
        st.r[r] = rg;
        st.h_prev[r] = h_prev;
    }
    return st;
}

// The running dh of the block's live rows, at the start of the range.
fn load_dh(b0: u32, u: u32) -> vec4<f32> {
    var d = vec4<f32>(0.0);
    for (var r = 0u; r < ROWS; r++) {
        if b0 + r < p.batch {
            d[r] = dh[(b0 + r) * U + u];
        }
    }
    return d;
}

fn store_dh(b0: u32, u: u32, d: vec4<f32>) {
    for (var r = 0u; r < ROWS; r++) {
        if b0 + r < p.batch {
            dh[(b0 + r) * U + u] = d[r];
        }
    }
}
