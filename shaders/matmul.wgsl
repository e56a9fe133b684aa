// Batched matmul C[b] = op(A[b]) · op(B[b]) for any M, N, K, with op = identity or transpose.
// a: [batch?, M, K] ([batch?, K, M] if trans_a), b: [batch?, K, N] ([batch?, N, K] if trans_b),
// c: [batch, M, N]. A batch stride of 0 broadcasts one matrix over the batch.
// Entry points: `matmul_tiled` (64x64 output tile per workgroup, 4x4 outputs per invocation,
// K staged through workgroup memory 16 at a time) and `matmul_naive` (one output each).
// Workgroups are numbered linearly (wid.x + wid.y * nwg.x) so the host can fold dispatches
// that exceed the per-dimension limit into two dimensions.
// Each dispatch sums k_begin..k_end of K (all of it on a hardware GPU; a software adapter's
// loop budget splits K over dispatches, every range but the last a multiple of 16) and
// writes C (accumulate = 0) or adds to what the dispatch before left there (accumulate = 1).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    trans_a: u32,
    trans_b: u32,
    a_stride: u32,
    b_stride: u32,
    tiles_m: u32,
    tiles_n: u32,
    k_begin: u32,
    k_end: u32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TM: u32 = 64u;
const TN: u32 = 64u;
// 16 deep: two 64x16 tiles are 8 KiB, half the 16 KiB of workgroup memory WebGPU guarantees.
const TK: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>; // [TK][TM]
var<workgroup> b_tile: array<f32, 1024>; // [TK][TN]

fn load_a(base: u32, row: u32, kk: u32) -> f32 {
    if row >= p.m || kk >= p.k {
        return 0.0;
    }
    if p.trans_a == 0u {
        return a[base + row * p.k + kk];
    }
    return a[base + kk * p.m + row];
}

fn load_b(base: u32, kk: u32, col: u32) -> f32 {
    if col >= p.n || kk >= p.k {
        return 0.0;
    }
    if p.trans_b == 0u {
        return b[base + kk * p.n + col];
    }
    return b[base + col * p.k + kk];
}

@compute @workgroup_size(16, 16)
fn matmul_tiled(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let wg = wid.x + wid.y * nwg.x;
    let per_batch = p.tiles_m * p.tiles_n;
    if wg >= per_batch * p.batch {
        return;
    }
    let bi = wg / per_batch;
    let t = wg % per_batch;
    let m0 = (t / p.tiles_n) * TM;
    let n0 = (t % p.tiles_n) * TN;
    let a_base = bi * p.a_stride;
    let b_base = bi * p.b_stride;

    // Output (m0 + ty + 16 i, n0 + tx + 16 j): strided so that neighbouring invocations touch
    // neighbouring columns, for coalesced stores and conflict-free tile reads.
    var acc: array<f32, 16>;
    for (var k0 = p.k_begin; k0 < p.k_end; k0 += TK) {
        for (var s = 0u; s < 4u; s++) {
            let l = li + s * 256u;
            // Neighbouring invocations load neighbouring addresses of each layout.
            if p.trans_a == 0u {
                a_tile[(l % TK) * TM + l / TK] = load_a(a_base, m0 + l / TK, k0 + l % TK);
            } else {
                a_tile[(l / TM) * TM + l % TM] = load_a(a_base, m0 + l % TM, k0 + l / TM);
            }
            if p.trans_b == 0u {
                b_tile[(l / TN) * TN + l % TN] = load_b(b_base, k0 + l / TN, n0 + l % TN);
            } else {
                b_tile[(l % TK) * TN + l / TK] = load_b(b_base, k0 + l % TK, n0 + l / TK);
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = a_tile[kk * TM + lid.y + 16u * i];
                bv[i] = b_tile[kk * TN + lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] += av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }
    let c_base = bi * p.m * p.n;
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            let row = m0 + lid.y + 16u * i;
            let col = n0 + lid.x + 16u * j;
            if row < p.m && col < p.n {
                let at = c_base + row * p.n + col;
                if p.accumulate != 0u {
                    c[at] += acc[i * 4u + j];
                } else {
                    c[at] = acc[i * 4u + j];
                }
            }
        }
    }
}

// One output per invocation; tiles_m/tiles_n count 16x16 blocks here.
@compute @workgroup_size(16, 16)
fn matmul_naive(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let wg = wid.x + wid.y * nwg.x;
    let per_batch = p.tiles_m * p.tiles_n;
    if wg >= per_batch * p.batch {
        return;
    }
    let bi = wg / per_batch;
    let t = wg % per_batch;
    let row = (t / p.tiles_n) * 16u + lid.y;
    let col = (t % p.tiles_n) * 16u + lid.x;
    if row >= p.m || col >= p.n {
        return;
    }
    var acc = 0.0;
    for (var kk = p.k_begin; kk < p.k_end; kk++) {
        acc += load_a(bi * p.a_stride, row, kk) * load_b(bi * p.b_stride, kk, col);
    }
    let at = bi * p.m * p.n + row * p.n + col;
    if p.accumulate != 0u {
        acc += c[at];
    }
    c[at] = acc;
}
