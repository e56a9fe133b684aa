// Workgroup-wide sum and max of one f32 per invocation, through workgroup memory in
// log2(LANES) barrier steps. Prepended by the host to kernels that declare `const LANES: u32`
// (their workgroup size, a power of two) and take a `lane: Lane` entry-point parameter.
// workgroup_reduce_subgroup.wgsl provides the same two functions through subgroup operations.
// Every invocation gets the same result; the last barrier lets the next call reuse `red`.

struct Lane {
    @builtin(local_invocation_index) index: u32,
}

var<workgroup> red: array<f32, LANES>;

fn workgroup_max(v: f32, lane: Lane) -> f32 {
    red[lane.index] = v;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if lane.index < s {
            red[lane.index] = max(red[lane.index], red[lane.index + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn workgroup_sum(v: f32, lane: Lane) -> f32 {
    red[lane.index] = v;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if lane.index < s {
            red[lane.index] = red[lane.index] + red[lane.index + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}
