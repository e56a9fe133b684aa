// Fused RMSprop update, in place, in Keras 3's operation order (epsilon inside the root);
// the host computes 1 - rho in f64 and rounds it once, as Keras does.
// w, velocity, mom, g: [n].
//   velocity = rho velocity + (1 - rho) g^2;  inc = lr g / sqrt(velocity + eps)
//   momentum 0: w -= inc;  else mom = momentum mom + inc, w -= mom

struct Params {
    n: u32,
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    momentum: f32,
    epsilon: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<storage, read_write> mom: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;

@compute @workgroup_size(256)
fn rmsprop_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.n {
        return;
    }
    let grad = g[i];
    let vel = p.rho * velocity[i] + p.one_minus_rho * (grad * grad);
    velocity[i] = vel;
    let inc = p.lr * grad / sqrt(vel + p.epsilon);
    if p.momentum > 0.0 {
        let m = p.momentum * mom[i] + inc;
        mom[i] = m;
        w[i] -= m;
    } else {
        w[i] -= inc;
    }
}
