// 2-d transpose: out[j, i] = x[i, j]. x: [R, C], out: [C, R]. One invocation per output
// element, consecutive invocations writing consecutive outputs (reading a column of x).

struct Params {
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * 256u;
    if o >= p.rows * p.cols {
        return;
    }
    let j = o / p.rows;
    let i = o % p.rows;
    out[o] = x[i * p.cols + j];
}
