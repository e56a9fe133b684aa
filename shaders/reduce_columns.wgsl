// Column sums: x viewed as [outer, n, inner] (inner > 1, the columns) -> out: [outer, chunks,
// inner], each the sum of one chunk of ROWS rows (or, with chunks = 1, the whole column sum).
// A bias gradient's reads were strided with one invocation per column ([6400, 512]: 512
// invocations of 6 400 serial loads); here a 64 x 4 workgroup takes 64 adjacent columns (each
// row's loads are contiguous across a tile) and one chunk of rows, and each of its 4 lanes
// per column sums every 4th row of the chunk. No subgroups, and a fixed order, the same as the
// CPU twin's (reduce.rs, `columns_cpu`): lane k adds rows k, k + 4, ... in order, the lanes
// combine as ((l0 + l1) + l2) + l3, divided by `divisor` when not 0 (a mean), and the chunks'
// partial sums are then added in order by reduce.wgsl.

struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    chunks: u32,
    rows: u32,
    divisor: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const COLS: u32 = 64u;
const LANES: u32 = 4u;

var<workgroup> part: array<f32, 256>;

@compute @workgroup_size(64, 4)
fn column_partials(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let tiles = (p.inner + COLS - 1u) / COLS;
    let g = wid.x + wid.y * nwg.x;
    // The same for the whole workgroup, so every invocation that reaches the barrier below
    // is one of a workgroup that all do.
    if g >= tiles * p.chunks * p.outer {
        return;
    }
    let tile = g % tiles;
    let chunk = (g / tiles) % p.chunks;
    let o = g / (tiles * p.chunks);
    let col = tile * COLS + lid.x;
    let lo = chunk * p.rows;
    let hi = min(lo + p.rows, p.n);
    var s = 0.0;
    if col < p.inner {
        for (var t = lo + lid.y; t < hi; t += LANES) {
            s += x[(o * p.n + t) * p.inner + col];
        }
    }
    part[lid.y * COLS + lid.x] = s;
    workgroupBarrier();
    if lid.y == 0u && col < p.inner {
        var total = ((part[lid.x] + part[COLS + lid.x]) + part[2u * COLS + lid.x])
            + part[3u * COLS + lid.x];
        if p.divisor != 0u {
            total /= f32(p.divisor);
        }
        out[(o * p.chunks + chunk) * p.inner + col] = total;
    }
}
