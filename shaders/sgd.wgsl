// Fused SGD update, in place, in Keras 3's operation order. w, m (velocity), g: [n].
// momentum 0:  w -= g lr
// momentum:    m = m momentum - g lr;  w += m              (nesterov: w += m momentum - g lr)

struct Params {
    n: u32,
    lr: f32,
    momentum: f32,
    nesterov: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;

@compute @workgroup_size(256)
fn sgd_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.n {
        return;
    }
    let grad = g[i];
    if p.momentum == 0.0 {
        w[i] -= grad * p.lr;
        return;
    }
    let m_new = m[i] * p.momentum - grad * p.lr;
    m[i] = m_new;
    if p.nesterov != 0u {
        w[i] += m_new * p.momentum - grad * p.lr;
    } else {
        w[i] += m_new;
    }
}
