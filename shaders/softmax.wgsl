// Uses log1p_pos from math.wgsl, and workgroup_sum, workgroup_max and Lane from
// workgroup_reduce.wgsl or (where the device has subgroups) workgroup_reduce_subgroup.wgsl,
// which the host prepends.
// Row-wise softmax and the fused softmax + crossentropy, over the last axis.
// softmax_forward:      z: [R, C] -> probs: [R, C]
// softmax_xent_forward: z: [R, C], y: [R, C] -> probs: [R, C], loss: [R];
//                       loss_r = sum_c y_rc (logsumexp(z_r) - z_rc), stable for any logits.
//                       With m = max z and s = 1 + r = sum exp(z - m), it is computed as
//                       (m - z_rc) + log1p(r): every term is non-negative, so a confident
//                       row's small loss keeps its relative precision (log(s) would not).
// softmax_backward:     probs: [R, C], dy: [R, C] -> dz: [R, C]; dz = probs (dy - sum(dy probs)),
//                       the Jacobian product for a softmax output under any other loss.
// softmax_xent_backward: probs: [R, C], y: [R, C] -> grad: [R, C]; grad = scale (probs - y),
//                       the exact gradient of the loss above w.r.t. z (scale = 1/R for a mean).
// The row kernels give each row one workgroup of 64 invocations that reduce together, so wide
// rows stay parallel; rows are numbered linearly (wid.x + wid.y nwg.x).

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> in1: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_rows: array<f32>;

const LANES: u32 = 64u;

// Writes probs for row `row` into `out` and returns (max, r) with sum exp(z - max) = 1 + r.
fn softmax_row(row: u32, lane: Lane) -> vec2<f32> {
    let base = row * p.cols;
    var m = -3.4028235e38;
    for (var c = lane.index; c < p.cols; c += LANES) {
        m = max(m, in0[base + c]);
    }
    m = workgroup_max(m, lane);
    // r sums exp(z - m) over entries below the max, plus one per extra entry equal to it.
    var below = 0.0;
    var ties = 0.0;
    for (var c = lane.index; c < p.cols; c += LANES) {
        let d = in0[base + c] - m;
        if d < 0.0 {
            below += exp_clamped(d);
        } else {
            ties += 1.0;
        }
    }
    let r = workgroup_sum(below, lane) + (workgroup_sum(ties, lane) - 1.0);
    for (var c = lane.index; c < p.cols; c += LANES) {
        out[base + c] = exp_clamped(in0[base + c] - m) / (1.0 + r);
    }
    return vec2<f32>(m, r);
}

@compute @workgroup_size(64)
fn softmax_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    lane: Lane,
) {
    let row = wid.x + wid.y * nwg.x;
    if row >= p.rows {
        return;
    }
    _ = softmax_row(row, lane);
}

@compute @workgroup_size(64)
fn softmax_xent_forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    lane: Lane,
) {
    let row = wid.x + wid.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let mr = softmax_row(row, lane);
    let log_s = log1p_pos(mr.y);
    let base = row * p.cols;
    var l = 0.0;
    for (var c = lane.index; c < p.cols; c += LANES) {
        l += in1[base + c] * ((mr.x - in0[base + c]) + log_s);
    }
    l = workgroup_sum(l, lane);
    if lane.index == 0u {
        out_rows[row] = l;
    }
}

@compute @workgroup_size(256)
fn softmax_xent_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.rows * p.cols {
        return;
    }
    out[i] = p.scale * (in0[i] - in1[i]);
}

@compute @workgroup_size(64)
fn softmax_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    lane: Lane,
) {
    let row = wid.x + wid.y * nwg.x;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    var d = 0.0;
    for (var c = lane.index; c < p.cols; c += LANES) {
        d += in1[base + c] * in0[base + c];
    }
    d = workgroup_sum(d, lane);
    for (var c = lane.index; c < p.cols; c += LANES) {
        out[base + c] = in0[base + c] * (in1[base + c] - d);
    }
}
