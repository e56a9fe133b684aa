// Workgroup-wide sum and max of one f32 per invocation, through subgroup operations: one
// subgroupAdd (subgroupMax) per subgroup, its first invocation writes one slot, and after one
// barrier every invocation combines the num_subgroups slots in slot order, so all get the same
// result; a second barrier lets the next call reuse the slots. Two barriers instead of
// workgroup_reduce.wgsl's log2(LANES) + 2. Same interface as that file (`const LANES`,
// `lane: Lane`), which the host prepends instead where the device lacks subgroups.
// Right for any subgroup size wgpu allows (4..128) and any LANES: num_subgroups counts a
// partial last subgroup, whose lanes still start at 0. Needs a one-dimensional workgroup
// (naga's rule for subgroup_id).
// No `enable subgroups;`: naga 30 rejects that directive on purpose (its subgroup support is not
// yet the WGSL spec's, gfx-rs/wgpu#8202) and instead allows the built-ins below only on a device
// opened with wgpu::Features::SUBGROUP; subgroup_id and num_subgroups are wgpu extras.

struct Lane {
    @builtin(local_invocation_index) index: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_id) sg_id: u32,
    @builtin(num_subgroups) sg_count: u32,
}

// One slot per subgroup; LANES slots cover even one-invocation subgroups.
var<workgroup> partial: array<f32, LANES>;

fn workgroup_max(v: f32, lane: Lane) -> f32 {
    let m = subgroupMax(v);
    if lane.sg_lane == 0u {
        partial[lane.sg_id] = m;
    }
    workgroupBarrier();
    var r = partial[0];
    for (var i = 1u; i < lane.sg_count; i++) {
        r = max(r, partial[i]);
    }
    workgroupBarrier();
    return r;
}

fn workgroup_sum(v: f32, lane: Lane) -> f32 {
    let s = subgroupAdd(v);
    if lane.sg_lane == 0u {
        partial[lane.sg_id] = s;
    }
    workgroupBarrier();
    var r = 0.0;
    for (var i = 0u; i < lane.sg_count; i++) {
        r += partial[i];
    }
    workgroupBarrier();
    return r;
}
