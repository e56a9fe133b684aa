// Elementwise arithmetic on flat f32 arrays of n elements; out may be bound alone (fill).
// fill:   out = alpha
// affine: out = alpha * a + beta                     (scale, add a scalar)
// binary: out = a (op) b, op 0 add, 1 sub, 2 mul, 3 div, 4 div_no_nan (0 where b is 0),
//         5 max, 6 min, 7 a >= b, 8 a <= b, 9 a == b (comparisons give 1.0 or 0.0)
// axpy:   out += alpha * a                           (in place: out is also read)

struct Params {
    n: u32,
    op: u32,
    alpha: f32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i < p.n {
        out[i] = p.alpha;
    }
}

@compute @workgroup_size(256)
fn affine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i < p.n {
        out[i] = p.alpha * a[i] + p.beta;
    }
}

@compute @workgroup_size(256)
fn binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.n {
        return;
    }
    let x = a[i];
    let y = b[i];
    switch p.op {
        case 0u: { out[i] = x + y; }
        case 1u: { out[i] = x - y; }
        case 2u: { out[i] = x * y; }
        case 3u: { out[i] = x / y; }
        case 4u: { out[i] = select(x / y, 0.0, y == 0.0); }
        case 5u: { out[i] = max(x, y); }
        case 6u: { out[i] = min(x, y); }
        case 7u: { out[i] = select(0.0, 1.0, x >= y); }
        case 8u: { out[i] = select(0.0, 1.0, x <= y); }
        default: { out[i] = select(0.0, 1.0, x == y); }
    }
}

@compute @workgroup_size(256)
fn axpy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i < p.n {
        out[i] += p.alpha * a[i];
    }
}
