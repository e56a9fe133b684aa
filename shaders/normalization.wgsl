// Keras's Normalization: per-column standardisation with a given mean and variance.
// normalization_forward:  x: [R, C], mean: [C], variance: [C] -> out: [R, C],
//                         out = (x - mean) / max(sqrt(variance), 1e-7), or with invert
//                         out = mean + x * max(sqrt(variance), 1e-7). One invocation per element.
// normalization_backward: dy: [R, C], variance: [C] -> dx: [R, C] = dy / denom (dy * denom
//                         with invert).

struct Params {
    n: u32,
    cols: u32,
    invert: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// The backward entry binds the first three only (the mean is last for that reason).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> variance: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> mean: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// Keras's backend.epsilon() keeps a zero variance from dividing by zero.
fn denom(c: u32) -> f32 {
    return max(sqrt(variance[c]), 1e-7);
}

@compute @workgroup_size(256)
fn normalization_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.n {
        return;
    }
    let c = i % p.cols;
    if p.invert != 0u {
        out[i] = mean[c] + x[i] * denom(c);
    } else {
        out[i] = (x[i] - mean[c]) / denom(c);
    }
}

@compute @workgroup_size(256)
fn normalization_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.n {
        return;
    }
    let c = i % p.cols;
    if p.invert != 0u {
        out[i] = x[i] * denom(c);
    } else {
        out[i] = x[i] / denom(c);
    }
}
