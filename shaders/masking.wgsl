// Keras's Masking: a step is masked when every feature equals mask_value; masked steps are
// zeroed in the output.
// masking_forward:  x: [B, T, F] -> out: [B, T, F], mask: [B, T] (1 keeps, 0 masks). One
//                   invocation per (b, t), whose loop runs over the features twice: steps 0..F
//                   find the mask, F..2F write the step. A dispatch runs the steps lo..hi,
//                   carrying the mask so far in mask: the host splits the loop on software
//                   adapters, which cut long loops short (ops::loop_ranges); elsewhere one
//                   dispatch runs it all.
// masking_backward: dy: [B, T, F], mask -> dx: [B, T, F] = dy * mask, one invocation per
//                   element.

struct Params {
    rows: u32,
    features: u32,
    mask_value: f32,
    lo: u32,
    hi: u32,
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
    let base = r * p.features;
    var keep = false;
    if p.lo > 0u {
        keep = mask[r] != 0.0;
    }
    for (var f = p.lo; f < min(p.hi, p.features); f++) {
        keep = keep || x[base + f] != p.mask_value;
    }
    let m = select(0.0, 1.0, keep);
    mask[r] = m;
    for (var k = max(p.lo, p.features); k < p.hi; k++) {
        let f = k - p.features;
        out[base + f] = x[base + f] * m;
    }
}

@compute @workgroup_size(256)
fn masking_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.rows * p.features {
        return;
    }
    out[i] = x[i] * mask[i / p.features];
}
