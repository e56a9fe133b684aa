// Dropout masks drawn from a counter-based hash, and their application (inverted dropout).
// dropout_mask:  -> mask: [n] (any shape, flat), mask[i] = scale where
//                keep_hash(seed, counter, i) >= threshold, else 0. One invocation per element.
// dropout_apply: x: [B, T, F], mask: [B, F] -> out: [B, T, F] = x * mask[b, f] (one draw per
//                sample and feature, the same at every step); a mask of x's own shape is the
//                case T = 1, F = n. One invocation per element of x.
//
// keep_hash is xxHash32's 16-byte path over the words (seed_hi, counter_lo, counter_hi, i) with
// seed_lo as xxHash's seed: u32 arithmetic only (WGSL has no u64), the same bits as the CPU
// twin (src/ops/dropout.rs), so a mask depends on (seed, counter, i) alone, not on the device,
// the grid or the order invocations run in. Keeping h >= threshold with
// threshold = ceil(rate * 2^32) is Keras's `uniform >= rate` for u = h / 2^32, compared as
// integers so both devices decide every element alike.

struct Params {
    n: u32,
    steps: u32,
    features: u32,
    threshold: u32,
    scale: f32,
    seed_lo: u32,
    seed_hi: u32,
    counter_lo: u32,
    counter_hi: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> mask: array<f32>;

const P1: u32 = 2654435761u;
const P2: u32 = 2246822519u;
const P3: u32 = 3266489917u;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

fn rotl(v: u32, r: u32) -> u32 {
    return (v << r) | (v >> (32u - r));
}

fn lane(acc: u32, word: u32) -> u32 {
    return rotl(acc + word * P2, 13u) * P1;
}

fn keep_hash(i: u32) -> u32 {
    let s = p.seed_lo;
    // s is a runtime value, so these sums wrap (a constant expression could not overflow).
    let v1 = lane(s + P1 + P2, p.seed_hi);
    let v2 = lane(s + P2, p.counter_lo);
    let v3 = lane(s, p.counter_hi);
    let v4 = lane(s - P1, i);
    var h = rotl(v1, 1u) + rotl(v2, 7u) + rotl(v3, 12u) + rotl(v4, 18u) + 16u;
    h = (h ^ (h >> 15u)) * P2;
    h = (h ^ (h >> 13u)) * P3;
    return h ^ (h >> 16u);
}

@compute @workgroup_size(256)
fn dropout_mask(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i < p.n {
        out[i] = select(0.0, p.scale, keep_hash(i) >= p.threshold);
    }
}

@compute @workgroup_size(256)
fn dropout_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i < p.n {
        let f = i % p.features;
        let b = i / (p.steps * p.features);
        out[i] = x[i] * mask[b * p.features + f];
    }
}
