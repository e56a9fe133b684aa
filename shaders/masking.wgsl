// Keras's Masking: a step is masked when every feature equals mask_value; masked steps are
// zeroed in the output. One invocation per (b, t).
// masking_forward:  x: [B, T, F] -> out: [B, T, F], mask: [B, T] (1 keeps, 0 masks)
// masking_backward: dy: [B, T, F], mask -> dx: [B, T, F] = dy * mask

struct Params {
    rows: u32,
    features: u32,
    mask_value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn masking_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    var keep = false;
    for (var f = 0u; f < p.features; f++) {
        keep = keep || x[r * p.features + f] != p.mask_value;
    }
    let m = select(0.0, 1.0, keep);
    mask[r] = m;
    for (var f = 0u; f < p.features; f++) {
        out[r * p.features + f] = x[r * p.features + f] * m;
    }
}

@compute @workgroup_size(256)
fn masking_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    let m = mask[r];
    for (var f = 0u; f < p.features; f++) {
        out[r * p.features + f] = x[r * p.features + f] * m;
    }
}
