// Uses sigmoid and tanh_f32 from math.wgsl and Params, p and index from recurrent.wgsl, which
// the host prepends.
// One LSTM time step, fused: recurrent matmul h(t-1) · R + input projection (bias included)
// -> gates i, f, g, o (Keras order) -> c(t), h(t), with the mask applied (a masked step keeps
// h and c unchanged). One invocation per (b, u); the host dispatches it once per step.
// xp: [B, T, 4U] (x · kernel + bias), rk: [U, 4U], mask: [B, T] (1 keeps a step; read only
// when has_mask), hseq, cseq: [B, T, U] (h and c after each step; step t - 1 is the state),
// gates: [B, T, 4U] (i, f, g, o after their activations; 0 at masked steps),
// hprev: [B, T, U] (h before each step, for the recurrent kernel's gradient).
// With has_init the state before step 0 is the initial one the host left in hprev's step 0
// (h0) and in cseq's step 0 (c0, which the step reads before it overwrites it).
// With has_rdrop gate k's recurrent product reads h(t-1) ⊙ rdrop(k, b, ·) (recurrent.wgsl).

@group(0) @binding(1) var<storage, read> xp: array<f32>;
@group(0) @binding(2) var<storage, read> rk: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(5) var<storage, read_write> cseq: array<f32>;
@group(0) @binding(6) var<storage, read_write> gates: array<f32>;
@group(0) @binding(7) var<storage, read_write> hprev: array<f32>;

// One unit's step: the gates from their pre-activations z (i, f, g,
// o), then c and h.
struct Cell {
    gates: vec4<f32>,
    c: f32,
    h: f32,
}

fn cell_forward(z: vec4<f32>, c_prev: f32) -> Cell {
    let ig = sigmoid(z[0]);
    let fg = sigmoid(z[1]);
    let gg = tanh_f32(z[2]);
    let og = sigmoid(z[3]);
    let c = fg * c_prev + ig * gg;
    return Cell(vec4<f32>(ig, fg, gg, og), c, og * tanh_f32(c));
}

@compute @workgroup_size(256)
fn lstm_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let u_count = p.units;
    let b = i / u_count;
    let u = i % u_count;
    let t = p.t;
    let bt = b * p.steps + t;
    var h_prev = 0.0;
    var c_prev = 0.0;
    let init = t == 0u && p.has_init != 0u;
    if t > 0u {
        h_prev = hseq[(bt - 1u) * u_count + u];
        c_prev = cseq[(bt - 1u) * u_count + u];
    } else if init {
        h_prev = hprev[bt * u_count + u];
        c_prev = cseq[bt * u_count + u];
    }
    // (h0 stays where it is: the other units read it below)
    if !init {
        hprev[bt * u_count + u] = h_prev;
    }
    let g_base = bt * 4u * u_count;
    if p.has_mask != 0u && mask[bt] == 0.0 {
        hseq[bt * u_count + u] = h_prev;
        cseq[bt * u_count + u] = c_prev;
        for (var k = 0u; k < 4u; k++) {
            gates[g_base + k * u_count + u] = 0.0;
        }
        return;
    }
    var z: vec4<f32>;
    for (var k = 0u; k < 4u; k++) {
        z[k] = xp[g_base + k * u_count + u];
    }
    if t > 0u || init {
        for (var j = 0u; j < u_count; j++) {
            var hj = 0.0;
            if init {
                hj = hprev[bt * u_count + j];
            } else {
                hj = hseq[(bt - 1u) * u_count + j];
            }
            let r_base = j * 4u * u_count + u;
            for (var k = 0u; k < 4u; k++) {
                z[k] += hj * rdrop(k, b, j) * rk[r_base + k * u_count];
            }
        }
    }
    let cell = cell_forward(z, c_prev);
    for (var k = 0u; k < 4u; k++) {
        gates[g_base + k * u_count + u] = cell.gates[k];
    }
    cseq[bt * u_count + u] = cell.c;
    hseq[bt * u_count + u] = cell.h;
}
