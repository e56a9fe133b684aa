// matmul_vec4's I/O for an operand whose contiguous dim is a multiple of 4 (a: K, or M if
// transposed; b: N, or K if transposed; c and bias: N): bound as array<vec4<f32>>, 4 floats
// never straddle an edge, so one bounds check covers them and each is one 16-byte access.
// Offsets are in floats (multiples of 4). The host picks a section per operand: `// @a`, `// @b`
// and `// @c` (c with the bias) each run to the next marker.

// @a
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;

// a's stored [rows, cols] matrix at `base`: row r, columns c0..c0+3 (0 past the edges).
fn load_a4(base: u32, r: u32, c0: u32, rows: u32, cols: u32) -> vec4<f32> {
    if r >= rows || c0 >= cols {
        return vec4<f32>(0.0);
    }
    return a[(base + r * cols + c0) / 4u];
}

// @b
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;

fn load_b4(base: u32, r: u32, c0: u32, rows: u32, cols: u32) -> vec4<f32> {
    if r >= rows || c0 >= cols {
        return vec4<f32>(0.0);
    }
    return b[(base + r * cols + c0) / 4u];
}

// @c
@group(0) @binding(3) var<storage, read> bias: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> c: array<vec4<f32>>;

// bias[c0..c0+3]; the caller checked c0 < N.
fn load_bias4(c0: u32) -> vec4<f32> {
    return bias[c0 / 4u];
}

// c[row, c0..c0+3] of the [M, N] matrix at `base`; the caller checked row < M and c0 < N.
fn load_c4(base: u32, row: u32, c0: u32) -> vec4<f32> {
    return c[(base + row * p.n + c0) / 4u];
}

fn store_c4(base: u32, row: u32, c0: u32, v: vec4<f32>) {
    c[(base + row * p.n + c0) / 4u] = v;
}
