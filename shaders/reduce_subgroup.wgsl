// Uses workgroup_sum and Lane from workgroup_reduce_subgroup.wgsl, which the host prepends.
// Sum or mean over one axis with one workgroup per output: x viewed as [outer, n, inner]
// -> out: [outer, inner]. reduce.wgsl gives each output one invocation that walks its n inputs
// alone, which leaves a GPU nearly idle when there are few outputs and n is long (a bias
// gradient: 512 outputs of 6400 terms). Here invocation k sums inputs k, k + LANES, ... of its
// output and the workgroup adds the LANES partial sums: deterministic for a given subgroup size,
// but in another order than the CPU twin's (within 1e-5 of the sum of |x|). As in reduce.wgsl,
// a dispatch adds the terms lo..hi to what the one before left in out.
// Outputs are numbered linearly over the (folded) grid: wid.x + wid.y nwg.x.

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

// 256 invocations: enough loads in flight per output to cover memory latency on a GPU.
const LANES: u32 = 256u;

@compute @workgroup_size(256)
fn reduce_axis(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    lane: Lane,
) {
    let i = wid.x + wid.y * nwg.x;
    if i >= p.outer * p.inner {
        return;
    }
    let o = i / p.inner;
    let j = i % p.inner;
    var s = 0.0;
    for (var t = p.lo + lane.index; t < p.hi; t += LANES) {
        s += x[(o * p.n + t) * p.inner + j];
    }
    s = workgroup_sum(s, lane);
    if lane.index == 0u {
        if p.lo > 0u {
            s = out[i] + s;
        }
        if p.hi == p.n && p.mean != 0u && p.n > 0u {
            s /= f32(p.n);
        }
        out[i] = s;
    }
}
