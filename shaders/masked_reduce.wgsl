// Masked sum or mean over time. x: [B, T, F], mask: [B, T] (1 keeps a step, 0 drops it)
// -> out: [B, F]. The mean divides by the number of kept steps; a row with none yields 0,
// not NaN. One invocation per output, summing over t in order like the CPU twin.
// masked_scale: x: [R, C] (R = B T rows), mask: [R], total: [1] (the mask's sum)
// -> out = x * mask[r] / total (0 when total is 0): the gradient of a loss averaged over the
// unmasked steps only, as Keras weights a masked sequence loss.

struct Params {
    batch: u32,
    steps: u32,
    features: u32,
    mean: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> total: array<f32>;

@compute @workgroup_size(256)
fn masked_reduce(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.batch * p.features {
        return;
    }
    let b = i / p.features;
    let f = i % p.features;
    var s = 0.0;
    var count = 0.0;
    for (var t = 0u; t < p.steps; t++) {
        let m = mask[b * p.steps + t];
        if m != 0.0 {
            s += x[(b * p.steps + t) * p.features + f];
            count += 1.0;
        }
    }
    if p.mean != 0u {
        s = select(0.0, s / count, count > 0.0);
    }
    out[i] = s;
}

// Params here: batch = R rows, features = C.
@compute @workgroup_size(256)
fn masked_scale(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.batch * p.features {
        return;
    }
    let t = total[0];
    out[i] = select(0.0, x[i] * mask[i / p.features] / t, t > 0.0);
}
