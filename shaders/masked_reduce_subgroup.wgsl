// Uses workgroup_sum and Lane from workgroup_reduce_subgroup.wgsl, which the host prepends
// (or from workgroup_reduce.wgsl, on a software adapter without subgroups: there one invocation
// per output cannot loop over a time axis past 65 535 steps, and this kernel takes it).
// Masked sum or mean over time with one workgroup per output: x: [B, T, F], mask: [B, T]
// -> out: [B, F], as masked_reduce.wgsl's masked_reduce (one invocation per output) computes
// it: invocation k sums the kept steps k, k + LANES, ... and counts them, then the workgroup
// adds the partial sums and counts. A row with no kept step yields 0 for the mean.
// Outputs are numbered linearly over the (folded) grid: wid.x + wid.y nwg.x.

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

// 64 invocations: sequences run to hundreds of steps, rarely thousands.
const LANES: u32 = 64u;

@compute @workgroup_size(64)
fn masked_reduce(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    lane: Lane,
) {
    let i = wid.x + wid.y * nwg.x;
    if i >= p.batch * p.features {
        return;
    }
    let b = i / p.features;
    let f = i % p.features;
    var s = 0.0;
    var count = 0.0;
    for (var t = lane.index; t < p.steps; t += LANES) {
        if mask[b * p.steps + t] != 0.0 {
            s += x[(b * p.steps + t) * p.features + f];
            count += 1.0;
        }
    }
    s = workgroup_sum(s, lane);
    count = workgroup_sum(count, lane);
    if lane.index == 0u {
        if p.mean != 0u {
            s = select(0.0, s / count, count > 0.0);
        }
        out[i] = s;
    }
}
