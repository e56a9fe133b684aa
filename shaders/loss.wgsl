// Uses sigmoid, tanh_f32 and log1p_pos from math.wgsl, which the host prepends.
// Per-sample losses, their gradients, and accuracy, over rows of C values (the last axis).
// pred, truth (the targets): [R, C]. Row kernels write out: [R]; gradient kernels write out: [R, C].
// Losses average over the last axis, as Keras's do; `scale` folds in the batch mean
// (1 / (R C) for a mean over the batch of per-row means).
// sigmoid_xent_forward: pred holds logits z; out[r] = mean_c max(z,0) - z y + log1p(e^-|z|),
//                       out2 = sigmoid(z). Its gradient is scale (sigmoid(z) - y).
// bce_forward/backward: pred holds probabilities, clipped to [eps, 1 - eps] (zero gradient
//                       where clipped): -(y log p + (1 - y) log(1 - p)).
// mse_forward/backward: (p - y)^2, gradient 2 scale (p - y).
// cce_forward/backward: categorical crossentropy of probabilities, as Keras: q = p / sum(p),
//                       clipped to [eps, 1 - eps], loss = -sum_c y log q (summed over C, not
//                       averaged); with a_c = -y_c / q_c (0 where clipped) the gradient is
//                       scale (a_j - sum_c a_c q_c) / sum(p). One invocation per row.
// accuracy_categorical: out[r] = 1 when argmax pred == argmax truth (first index on ties).
// accuracy_binary:      out[r] = mean_c [(pred > 0.5) == (truth > 0.5)].
// Long rows: a row kernel's dispatch runs the steps lo..hi of the row's loop (of its loops laid
// end to end: cce_backward's three passes over the C columns are the steps 0..3C) and carries
// on from the state the dispatch before left: the row's sum in out, other state in out2 (cce:
// [R] or [R, 2], accuracy_categorical: [R, 2]). The host splits the loop on software adapters,
// which cut long loops short (ops::loop_ranges); elsewhere one dispatch runs it (lo = 0, hi =
// the whole loop), in the CPU twin's order either way.

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    scale: f32,
    lo: u32,
    hi: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> truth: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> out2: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// The sum row r's dispatch before left in out (0 for the first).
fn resume(r: u32) -> f32 {
    if p.lo == 0u {
        return 0.0;
    }
    return out[r];
}

// A row's sum, averaged over its C entries by the dispatch that ends its loop.
fn row_mean(s: f32) -> f32 {
    if p.hi == p.cols {
        return s / f32(p.cols);
    }
    return s;
}

@compute @workgroup_size(256)
fn sigmoid_xent_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    var s = resume(r);
    for (var c = p.lo; c < p.hi; c++) {
        let i = r * p.cols + c;
        let z = pred[i];
        let e = exp_clamped(-abs(z));
        s += max(z, 0.0) - z * truth[i] + log1p_pos(e);
        out2[i] = select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
    }
    out[r] = row_mean(s);
}

// log(q) for q in (0, 1]: near 1 WGSL's log only promises an absolute error of 2^-21, which
// would swamp a confident prediction's tiny loss, so it goes through log1p there.
fn log_prob(q: f32) -> f32 {
    if q >= 0.5 {
        return -log1p_pos((1.0 - q) / q);
    }
    return log(q);
}

// log(1 - q) likewise, without forming 1 - (1 - q) (which compilers may simplify to q).
fn log_one_minus(q: f32) -> f32 {
    if q <= 0.5 {
        return -log1p_pos(q / (1.0 - q));
    }
    return log(1.0 - q);
}

fn clip(v: f32) -> f32 {
    return clamp(v, p.eps, 1.0 - p.eps);
}

@compute @workgroup_size(256)
fn bce_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    var s = resume(r);
    for (var c = p.lo; c < p.hi; c++) {
        let q = clip(pred[r * p.cols + c]);
        let y = truth[r * p.cols + c];
        s -= y * log_prob(q) + (1.0 - y) * log_one_minus(q);
    }
    out[r] = row_mean(s);
}

@compute @workgroup_size(256)
fn bce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.rows * p.cols {
        return;
    }
    let q = pred[i];
    let y = truth[i];
    var g = 0.0;
    if q >= p.eps && q <= 1.0 - p.eps {
        g = p.scale * ((1.0 - y) / (1.0 - q) - y / q);
    }
    out[i] = g;
}

@compute @workgroup_size(256)
fn mse_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    var s = resume(r);
    for (var c = p.lo; c < p.hi; c++) {
        let d = pred[r * p.cols + c] - truth[r * p.cols + c];
        s += d * d;
    }
    out[r] = row_mean(s);
}

@compute @workgroup_size(256)
fn mse_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.rows * p.cols {
        return;
    }
    out[i] = 2.0 * p.scale * (pred[i] - truth[i]);
}

@compute @workgroup_size(256)
fn accuracy_categorical(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    let base = r * p.cols;
    var best_p = 0u;
    var best_t = 0u;
    // The argmaxes so far, carried as f32: exact below 2^24 columns.
    if p.lo > 0u {
        best_p = u32(out2[2u * r]);
        best_t = u32(out2[2u * r + 1u]);
    }
    for (var c = max(p.lo, 1u); c < p.hi; c++) {
        if pred[base + c] > pred[base + best_p] {
            best_p = c;
        }
        if truth[base + c] > truth[base + best_t] {
            best_t = c;
        }
    }
    out2[2u * r] = f32(best_p);
    out2[2u * r + 1u] = f32(best_t);
    out[r] = select(0.0, 1.0, best_p == best_t);
}

@compute @workgroup_size(256)
fn accuracy_binary(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    var s = resume(r);
    for (var c = p.lo; c < p.hi; c++) {
        let i = r * p.cols + c;
        s += select(0.0, 1.0, (pred[i] > 0.5) == (truth[i] > 0.5));
    }
    out[r] = row_mean(s);
}

@compute @workgroup_size(256)
fn cce_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    // Steps 0..C sum the row (carried in out2[r]), steps C..2C the loss.
    let base = r * p.cols;
    var total = 0.0;
    if p.lo > 0u {
        total = out2[r];
    }
    for (var c = p.lo; c < min(p.hi, p.cols); c++) {
        total += pred[base + c];
    }
    out2[r] = total;
    var s = 0.0;
    if p.lo > p.cols {
        s = out[r];
    }
    for (var k = max(p.lo, p.cols); k < p.hi; k++) {
        let c = k - p.cols;
        s -= truth[base + c] * log_prob(clip(pred[base + c] / total));
    }
    out[r] = s;
}

@compute @workgroup_size(256)
fn cce_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = index(gid, nwg);
    if r >= p.rows {
        return;
    }
    // Steps 0..C sum the row, C..2C the dot product (both carried in out2: [R, 2]), 2C..3C
    // write the gradient.
    let base = r * p.cols;
    var total = 0.0;
    // sum_c a_c q_c, where a_c q_c = -y_c for every entry that was not clipped.
    var dot = 0.0;
    if p.lo > 0u {
        total = out2[2u * r];
        dot = out2[2u * r + 1u];
    }
    for (var c = p.lo; c < min(p.hi, p.cols); c++) {
        total += pred[base + c];
    }
    for (var k = max(p.lo, p.cols); k < min(p.hi, 2u * p.cols); k++) {
        let c = k - p.cols;
        let q = pred[base + c] / total;
        if q >= p.eps && q <= 1.0 - p.eps {
            dot -= truth[base + c];
        }
    }
    out2[2u * r] = total;
    out2[2u * r + 1u] = dot;
    for (var k = max(p.lo, 2u * p.cols); k < p.hi; k++) {
        let c = k - 2u * p.cols;
        let q = pred[base + c] / total;
        var a = 0.0;
        if q >= p.eps && q <= 1.0 - p.eps {
            a = -truth[base + c] / q;
        }
        out[base + c] = p.scale * (a - dot) / total;
    }
}
