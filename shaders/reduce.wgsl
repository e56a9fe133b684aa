// Sum or mean over one axis. x viewed as [outer, n, inner] -> out: [outer, inner].
// One invocation per output, summing its n inputs in order (as the CPU twin does), which
// keeps the bias gradient (a column sum over the batch) deterministic. A dispatch adds the
// terms lo..hi to the sum the one before left in out: the host splits n over several
// dispatches on software adapters, which cut long loops short (ops::loop_ranges); the last
// (hi = n) divides for the mean.

struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    mean: u32,
    lo: u32,
    hi: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn reduce_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.outer * p.inner {
        return;
    }
    let o = i / p.inner;
    let j = i % p.inner;
    var s = 0.0;
    if p.lo > 0u {
        s = out[i];
    }
    for (var t = p.lo; t < p.hi; t++) {
        s += x[(o * p.n + t) * p.inner + j];
    }
    if p.hi == p.n && p.mean != 0u && p.n > 0u {
        s /= f32(p.n);
    }
    out[i] = s;
}
