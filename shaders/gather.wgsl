// Row gather: out[b, :] = src[idx[b], :]. src: [R, C], idx: [B] (u32, each < R, checked on the
// host), out: [B, C]. Batches a resident dataset by (shuffled) sample index; also the
// embedding lookup. One invocation per output element.

struct Params {
    rows_out: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn gather_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if i >= p.rows_out * p.cols {
        return;
    }
    let b = i / p.cols;
    let c = i % p.cols;
    out[i] = src[idx[b] * p.cols + c];
}
