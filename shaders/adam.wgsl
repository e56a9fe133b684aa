// Fused Adam update, in place, in Keras 3's exact operation order (epsilon outside the root):
//   m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  w -= (m alpha) / (sqrt(v) + eps)
// where the host computes 1 - b1 and 1 - b2 in f64 (rounded once, as Keras) and
// alpha = lr sqrt(1 - b2^t) / (1 - b1^t) in f32 for step t (as Keras).
// w, m, v, g: [n].

struct Params {
    n: u32,
    alpha: f32,
    one_minus_beta_1: f32,
    one_minus_beta_2: f32,
    epsilon: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;

@compute @workgroup_size(256)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.n {
        return;
    }
    let grad = g[i];
    let m_new = m[i] + (grad - m[i]) * p.one_minus_beta_1;
    let v_new = v[i] + (grad * grad - v[i]) * p.one_minus_beta_2;
    m[i] = m_new;
    v[i] = v_new;
    w[i] -= (m_new * p.alpha) / (sqrt(v_new) + p.epsilon);
}
