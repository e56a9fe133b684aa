// Uses tanh_f32 from math.wgsl and Params, p and index from recurrent.wgsl, which the host
// prepends.
// One SimpleRNN time step (Keras's SimpleRNN, tanh), one invocation per (b, u); the host
// dispatches it once per step: h = tanh(xp + h(t-1) · R). A masked step keeps h unchanged.
// xp: [B, T, U] (x · kernel + bias), rk: [U, U], mask: [B, T] (read only when has_mask),
// hseq: [B, T, U] (h after each step), hprev: [B, T, U] (h before each step).

@group(0) @binding(1) var<storage, read> xp: array<f32>;
@group(0) @binding(2) var<storage, read> rk: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;
@group(0) @binding(4) var<storage, read_write> hseq: array<f32>;
@group(0) @binding(5) var<storage, read_write> hprev: array<f32>;

@compute @workgroup_size(256)
fn rnn_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.batch * p.units {
        return;
    }
    let n = p.units;
    let b = i / n;
    let u = i % n;
    let bt = b * p.steps + p.t;
    var h_prev = 0.0;
    let init = p.t == 0u && p.has_init != 0u;
    if p.t > 0u {
        h_prev = hseq[(bt - 1u) * n + u];
    } else if init {
        h_prev = hprev[bt * n + u];
    }
    // (h0, left in hprev's step 0 by the host, stays where it is: the other units read it)
    if !init {
        hprev[bt * n + u] = h_prev;
    }
    if p.has_mask != 0u && mask[bt] == 0.0 {
        hseq[bt * n + u] = h_prev;
        return;
    }
    var s = xp[bt * n + u];
    // with has_rdrop, h(t-1) ⊙ rdrop(0, b, ·) (recurrent.wgsl)
    if p.t > 0u {
        let h_base = (bt - 1u) * n;
        for (var j = 0u; j < n; j++) {
            s += hseq[h_base + j] * rdrop(0u, b, j) * rk[j * n + u];
        }
    } else if init {
        for (var j = 0u; j < n; j++) {
            s += hprev[bt * n + j] * rdrop(0u, b, j) * rk[j * n + u];
        }
    }
    hseq[bt * n + u] = tanh_f32(s);
}
