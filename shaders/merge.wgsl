// Merge layers' data movement (src/ops/merge.rs):
// copy_block:  out[(i / width) * dst_stride + dst_offset + i % width]
//                = a[(i / width) * src_stride + src_offset + i % width], for i < n
//              (a concatenation writes each input's block; its backward reads one back)
// select_rows: out[i] = a[i] where mask[i / inner] != 0, else b[i], for i < n
//              (a [B, T] mask applied to [B, T, F] values; inner = 1 for an elementwise choice)

struct Params {
    n: u32,
    width: u32,
    src_stride: u32,
    src_offset: u32,
    dst_stride: u32,
    dst_offset: u32,
    inner: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn copy_block(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.n {
        return;
    }
    let row = i / p.width;
    let col = i % p.width;
    out[row * p.dst_stride + p.dst_offset + col] = a[row * p.src_stride + p.src_offset + col];
}

@compute @workgroup_size(256)
fn select_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = index(gid, nwg);
    if i >= p.n {
        return;
    }
    out[i] = select(b[i], a[i], mask[i / p.inner] != 0.0);
}
