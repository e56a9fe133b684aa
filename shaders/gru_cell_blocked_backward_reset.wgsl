// The GRU backward's entry for a reset before the product, after
// gru_cell_blocked_backward.wgsl (its header has the scheme and the math): per step drh from
// the candidate's gradient, then the product of z's and r's.

@compute @workgroup_size(WG)
fn gru_backward_blocked_reset(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) k: u32,
) {
    // Bound for gru_backward_blocked; referenced so the layouts agree.
    _ = &hn;
    let b0 = (wid.x + wid.y * nwg.x) * ROWS;
    if b0 >= p.batch {
        return;
    }
    let u = k % U;
    let s = k / U;
    load_rk_chip(k);
    var dh_t = vec4<f32>(0.0);
    if s == 0u {
        dh_t = load_dh(b0, u);
    }
    // Unit u's masks: z's and r's scale their products; hn = r ⊙ (h(t - 1) ⊙ r_h).
    let own = rdrop_gates(b0, 3u, u);
    let ones = array<vec4<f32>, 3>(vec4<f32>(1.0), vec4<f32>(1.0), vec4<f32>(1.0));
    for (var st = p.t_end; st > p.t; st--) {
        let t = st - 1u;
        var step = carried(dh_t);
        if s == 0u {
            step = step_backward(b0, t, u, dh_t, false);
        }
        let drh = product_t(step.da, 2u, 1u, u, s, ones);
        if s == 0u {
            let da_r = drh * (step.h_prev * own[2]) * step.r * (vec4<f32>(1.0) - step.r);
            step.da[1] = select(da_r, vec4<f32>(0.0), step.carry);
            step.direct += select(drh * step.r * own[2], vec4<f32>(0.0), step.carry);
            for (var r = 0u; r < ROWS; r++) {
                if !step.carry[r] {
                    dz[((b0 + r) * p.steps + t) * G3 + U + u] = step.da[1][r];
                }
            }
        }
        let sum = product_t(step.da, 0u, 2u, u, s, own);
        if s == 0u {
            dh_t = select(step.direct + sum, step.direct, step.carry);
        }
    }
    if s == 0u {
        store_dh(b0, u, dh_t);
    }
}
