// The GRU forward's entry for a reset before the product, after gru_cell_blocked.wgsl (its
// header has the scheme and the math): per step a product for z and r, then one for the
// candidate from r ⊙ h(t - 1), which workgroup memory holds beside h.

var<workgroup> hn_sh: array<vec4<f32>, U>;
// The partial sums of slices 1..S - 1: z and r, then (in [0]) the candidate's.
var<workgroup> part: array<array<vec4<f32>, 2>, PART_LEN>;

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
    // the candidate's mask of unit u: hn = r ⊙ (h(t - 1) ⊙ r_h)
    let r_h = rdrop_gates(b0, 3u, u)[2];
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
        if p.has_rdrop == 0u {
            for (var j = j0; j < j1; j++) {
                let h = h_sh[j];
                let base = j * G3 + u;
                a_z += h * rk_at(base);
                a_r += h * rk_at(base + U);
            }
        } else {
            // gate g's product reads h(t - 1) ⊙ r_g
            for (var j = j0; j < j1; j++) {
                let h = h_sh[j];
                let m = rdrop_gates(b0, 2u, j);
                let base = j * G3 + u;
                a_z += (h * m[0]) * rk_at(base);
                a_r += (h * m[1]) * rk_at(base + U);
            }
        }
        if s > 0u {
            part[(s - 1u) * U + u] = array<vec4<f32>, 2>(a_z, a_r);
        }
        workgroupBarrier();
        // (u, 0) keeps z and h(t - 1) for the candidate, and shares r ⊙ h(t - 1).
        var z = vec4<f32>(0.0);
        let h_prev = h_sh[u];
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                let pq = part[q * U + u];
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
                hn_c[r] = rg * (h_prev[r] * r_h[r]);
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
            part[(s - 1u) * U + u][0] = a_h;
        }
        workgroupBarrier();
        if s == 0u {
            for (var q = 0u; q + 1u < S; q++) {
                a_h += part[q * U + u][0];
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
