// The GRU backward's entry for reset_after, after gru_cell_blocked_backward.wgsl (its header
// has the scheme and the math): one product over the three gates' dhz per step.

@compute @workgroup_size(WG)
fn gru_backward_blocked(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) k: u32,
) {
    // Bound for gru_backward_blocked_reset; referenced so the layouts agree.
    _ = &hprev;
    let b0 = (wid.x + wid.y * nwg.x) * ROWS;
    // The same for the whole workgroup, so no barrier below is skipped by part of it.
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
    // dh(t - 1) = dh z + Σ_g (dhz_g · R_gᵀ) ⊙ r_g: unit u's masks
    let own = rdrop_gates(b0, 3u, u);
    for (var st = p.t_end; st > p.t; st--) {
        var step = carried(dh_t);
        if s == 0u {
            step = step_backward(b0, st - 1u, u, dh_t, true);
        }
        let dhz = array<vec4<f32>, 3>(step.da[0], step.da[1], step.da[2] * step.r);
        let sum = product_t(dhz, 0u, 3u, u, s, own);
        if s == 0u {
            dh_t = select(step.direct + sum, step.direct, step.carry);
        }
    }
    if s == 0u {
        store_dh(b0, u, dh_t);
    }
}
