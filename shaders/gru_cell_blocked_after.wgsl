// The GRU forward's entry for reset_after, after gru_cell_blocked.wgsl (its header has the
// scheme and the math): one product of three gates per step.

// The partial gate sums of slices 1..S - 1.
var<workgroup> part: array<array<vec4<f32>, 3>, PART_LEN>;

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
        if p.has_rdrop == 0u {
            for (var j = j0; j < j1; j++) {
                let h = h_sh[j];
                let base = j * G3 + u;
                a_z += h * rk_at(base);
                a_r += h * rk_at(base + U);
                a_h += h * rk_at(base + 2u * U);
            }
        } else {
            // gate g's product reads h(t - 1) ⊙ r_g
            for (var j = j0; j < j1; j++) {
                let h = h_sh[j];
                let m = rdrop_gates(b0, 3u, j);
                let base = j * G3 + u;
                a_z += (h * m[0]) * rk_at(base);
                a_r += (h * m[1]) * rk_at(base + U);
                a_h += (h * m[2]) * rk_at(base + 2u * U);
            }
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
