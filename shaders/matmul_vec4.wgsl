// Register-blocked tiled matmul with a fused bias + activation epilogue:
// c[b] = act(op(a[b]) · op(b[b]) + bias), op = identity or transpose.
// a: [batch?, M, K] ([batch?, K, M] if trans_a), b: [batch?, K, N] ([batch?, N, K] if trans_b),
// bias: [N] (read only if has_bias), c: [batch, M, N]; a batch stride of 0 shares one b.
//
// The host prepends the tile shape (const TM, TN, TK, RM, RN: a TM x TN output tile per
// workgroup, K staged TK at a time, RM x RN outputs per invocation), the transposes (const
// TRANS_A, TRANS_B), whether to prefetch the next K-tile (const PREFETCH), math.wgsl,
// activation.wgsl, and per operand (a, b, c with bias) a section of
// matmul_vec4_io_aligned.wgsl (bound as array<vec4<f32>>: one 16-byte access per 4 floats)
// where its contiguous dim is a multiple of 4, else of matmul_vec4_io_unaligned.wgsl (4
// bounds-checked scalar accesses). They define load_a4 and load_b4 (4 contiguous floats of a
// row as stored, 0 past the edges), load_bias4, load_c4 and store_c4. It appends, generated
// per tile and transpose of a (src/ops/matmul/vec4_source.rs), struct Acc, struct Staged and
// the unrolled fetch, stage, accumulate and store_tile.
// K may be split into `splits` ranges of k_split (a multiple of TK; the last takes the rest):
// split s's workgroups sum its range into block s of c, [splits, batch, M, N], which
// matmul_split_sum.wgsl then adds up (splits = 1, k_split >= K: one range, c is the output).
// Each dispatch sums k_begin..k_end of its split's range (all of it on a hardware GPU; a
// software adapter's loop budget splits a range over dispatches, every part but the last a
// multiple of TK) and writes its sum (accumulate = 0) or adds it to what the dispatch before
// left in c (accumulate = 1). The host passes the bias and activation to the last part of
// an unsplit K only, so the earlier ones (and every split's) store raw sums.
// Workgroups are numbered linearly (wid.x + wid.y * nwg.x) so the host can fold dispatches
// past the per-dimension limit into two dimensions.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    a_stride: u32,
    b_stride: u32,
    tiles_m: u32,
    tiles_n: u32,
    act: u32,
    has_bias: u32,
    k_begin: u32,
    k_end: u32,
    accumulate: u32,
    splits: u32,
    k_split: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG_X: u32 = TN / RN;
const WG_Y: u32 = TM / RM;
const THREADS: u32 = WG_X * WG_Y;
// Tiles in shared memory, in vec4s, in the layout their operand is stored in, so staging
// moves each loaded vec4 to the same index of the tile (one 16-byte store, no scatter): a_s
// is [TM][TK/4] (k-contiguous) for a stored [M, K] and [TK][TM/4] for a stored [K, M]; b_s is
// [TK][TN/4], a stored [N, K] scattered into it 4 floats at a time.
const TM4: u32 = TM / 4u;
const TN4: u32 = TN / 4u;
const TK4: u32 = TK / 4u;

var<workgroup> a_s: array<vec4<f32>, TK * TM4>;
var<workgroup> b_s: array<vec4<f32>, TK * TN4>;

// Vec4 l (< TM * TK4) of the a tile at rows m0.., k0.., in the order it is stored, so
// neighbouring invocations load neighbouring addresses.
fn fetch_a(base: u32, m0: u32, k0: u32, l: u32) -> vec4<f32> {
    if !TRANS_A {
        // Stored [M, K]: 4 consecutive k of one row.
        return load_a4(base, m0 + l / TK4, k0 + (l % TK4) * 4u, p.m, p.k);
    }
    // Stored [K, M]: 4 consecutive m of one k.
    return load_a4(base, k0 + l / TM4, m0 + (l % TM4) * 4u, p.k, p.m);
}

fn stage_a(v: vec4<f32>, l: u32) {
    a_s[l] = v;
}

// Vec4 l (< TN * TK4) of the b tile at columns n0.., k0...
fn fetch_b(base: u32, n0: u32, k0: u32, l: u32) -> vec4<f32> {
    if !TRANS_B {
        // Stored [K, N]: 4 consecutive n of one k.
        return load_b4(base, k0 + l / TN4, n0 + (l % TN4) * 4u, p.k, p.n);
    }
    // Stored [N, K]: 4 consecutive k of one column.
    return load_b4(base, n0 + l / TK4, k0 + (l % TK4) * 4u, p.n, p.k);
}

fn stage_b(v: vec4<f32>, l: u32) {
    if !TRANS_B {
        b_s[l] = v;
    } else {
        let col = l / TK4;
        let kq = (l % TK4) * 4u;
        b_s[kq * TN4 + col / 4u][col % 4u] = v.x;
        b_s[(kq + 1u) * TN4 + col / 4u][col % 4u] = v.y;
        b_s[(kq + 2u) * TN4 + col / 4u][col % 4u] = v.z;
        b_s[(kq + 3u) * TN4 + col / 4u][col % 4u] = v.w;
    }
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_vec4(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let wg = wid.x + wid.y * nwg.x;
    let per_batch = p.tiles_m * p.tiles_n;
    let per_split = per_batch * p.batch;
    if wg >= per_split * p.splits {
        return;
    }
    let split = wg / per_split;
    let bi = (wg % per_split) / per_batch;
    let t = wg % per_batch;
    let m0 = (t / p.tiles_n) * TM;
    let n0 = (t % p.tiles_n) * TN;
    let a_base = bi * p.a_stride;
    let b_base = bi * p.b_stride;
    // This split's part of K (a multiple of TK from its start), and of it this dispatch's.
    let k_lo = split * p.k_split;
    let k_hi = min(k_lo + p.k_end, p.k);

    // Invocation (x, y) owns rows 4 (y + WG_Y i4) + r and columns 4 (x + WG_X j4) + 0..3 of
    // the tile: its vec4 groups are WG_Y (WG_X) vec4s apart, so neighbouring invocations read
    // neighbouring vec4s of the shared tiles and store neighbouring vec4s of c. Its RM x RN/4
    // accumulators are the named fields of Acc (c{i}_{j4}, never indexed by a variable), which
    // the host generates with the unrolled step and store: accumulate and store_tile.
    var acc: Acc;
    // With PREFETCH (hardware adapters) the next K-tile is loaded into registers (fetch,
    // generated: Staged holds this invocation's vec4s of both tiles) before the current one
    // is multiplied, so its global loads are in flight during the multiply-adds; `stage`
    // then stores it to the tiles. Without (software adapters), each tile is fetched and
    // staged when its turn comes.
    var k0 = k_lo + p.k_begin;
    var next: Staged;
    if PREFETCH && k0 < k_hi {
        next = fetch(a_base, b_base, m0, n0, k0, li);
    }
    while k0 < k_hi {
        if !PREFETCH {
            next = fetch(a_base, b_base, m0, n0, k0, li);
        }
        stage(next, li);
        workgroupBarrier();
        if PREFETCH && k0 + TK < k_hi {
            next = fetch(a_base, b_base, m0, n0, k0 + TK, li);
        }
        for (var kq = 0u; kq < TK4; kq++) {
            accumulate(&acc, kq, lid.x, lid.y);
        }
        workgroupBarrier();
        k0 += TK;
    }

    // Split s of batch entry bi writes the [M, N] block s * batch + bi of its output.
    let c_base = (split * p.batch + bi) * p.m * p.n;
    store_tile(&acc, c_base, m0, n0, lid.x, lid.y);
}

// One output vec4 of the epilogue: acc + bias, plus what c holds when accumulating, through
// the activation, stored at (row, col) if row < M (the caller checked col < N).
fn finish(c_base: u32, row: u32, col: u32, acc: vec4<f32>, bias: vec4<f32>) {
    if row >= p.m {
        return;
    }
    var v = acc + bias;
    if p.accumulate != 0u {
        v += load_c4(c_base, row, col);
    }
    let y = vec4<f32>(
        activate(v.x, p.act),
        activate(v.y, p.act),
        activate(v.z, p.act),
        activate(v.w, p.act),
    );
    store_c4(c_base, row, col, y);
}
