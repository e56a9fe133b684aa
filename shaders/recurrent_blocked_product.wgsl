// Uses U, S, GC, KC, PART_LEN, RK_CHIP_LEN and rk_t_at, which the host generates per units
// (src/ops/recurrent/blocked.rs); prepended to the GRU's and SimpleRNN's row-blocked backward
// kernels, after the bindings (rk_t is the cell's).
// The backward recurrent product of a row-blocked workgroup (the scheme of
// lstm_cell_blocked_backward.wgsl): for unit u, Σ_k d_k · rk_t[k, u] over the terms
// k = g U + j of gates g in first..first + count, one vec4 of rows, GC gates of d at a time in
// workgroup memory (written by the units' first invocations), invocation (u, s) taking KC of
// a chunk's terms with four independent accumulators, each rk_t element serving all four
// rows, each gate's terms scaled by scale[g] (unit u's recurrent dropout mask of gate g, or
// ones). The S partial sums meet in workgroup memory and (u, 0) adds them in the order
// s = 0, 1, .., S - 1 (the same result every run): the sum is whole at s == 0 only. Every
// invocation of the workgroup calls it, with the same first and count (it has barriers).
// rk_t: [G·U, U] (the recurrent kernel transposed).

var<workgroup> dz_sh: array<vec4<f32>, GC * U>;
var<workgroup> part: array<vec4<f32>, PART_LEN>;
var<workgroup> rk_chip: array<f32, RK_CHIP_LEN>;

fn product_t(
    d_in: array<vec4<f32>, 3>,
    first: u32,
    count: u32,
    u: u32,
    s: u32,
    scale: array<vec4<f32>, 3>,
) -> vec4<f32> {
    var d = d_in;
    var sc = scale;
    var sum = vec4<f32>(0.0);
    for (var g0 = 0u; g0 < count; g0 += GC) {
        let gc = min(GC, count - g0);
        if s == 0u {
            for (var g = 0u; g < gc; g++) {
                dz_sh[g * U + u] = d[first + g0 + g];
            }
        }
        workgroupBarrier();
        // rk_t's row for the chunk's term q is (first + g0) U + q; the terms of gate g (of
        // the chunk) are g U .. (g + 1) U, summed apart to take gate g's scale.
        let rk_base = (first + g0) * U * U + u;
        let lo = s * KC;
        let hi = min(lo + KC, gc * U);
        for (var g = lo / U; g < gc && g * U < hi; g++) {
            let g_hi = min(hi, (g + 1u) * U);
            var acc0 = vec4<f32>(0.0);
            var acc1 = vec4<f32>(0.0);
            var acc2 = vec4<f32>(0.0);
            var acc3 = vec4<f32>(0.0);
            var q = max(lo, g * U);
            for (; q + 4u <= g_hi; q += 4u) {
                acc0 += dz_sh[q] * rk_t_at(rk_base + q * U);
                acc1 += dz_sh[q + 1u] * rk_t_at(rk_base + (q + 1u) * U);
                acc2 += dz_sh[q + 2u] * rk_t_at(rk_base + (q + 2u) * U);
                acc3 += dz_sh[q + 3u] * rk_t_at(rk_base + (q + 3u) * U);
            }
            for (; q < g_hi; q++) {
                acc0 += dz_sh[q] * rk_t_at(rk_base + q * U);
            }
            sum += ((acc0 + acc1) + (acc2 + acc3)) * sc[first + g0 + g];
        }
        workgroupBarrier();
    }
    if s > 0u {
        part[(s - 1u) * U + u] = sum;
    }
    workgroupBarrier();
    if s == 0u {
        for (var q = 0u; q + 1u < S; q++) {
            sum += part[q * U + u];
        }
    }
    return sum;
}
