// matmul_vec4's I/O for an operand of any shape: bound as array<f32>, 4 scalar accesses, each
// checked against the edge (a row's last 4 floats may be partial). Sections as in
// matmul_vec4_io_aligned.wgsl, with the same functions.

// @a
@group(0) @binding(1) var<storage, read> a: array<f32>;

// a's stored [rows, cols] matrix at `base`: row r, columns c0..c0+3 (0 past the edges).
fn load_a4(base: u32, r: u32, c0: u32, rows: u32, cols: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if r < rows {
        for (var j = 0u; j < 4u; j++) {
            if c0 + j < cols {
                v[j] = a[base + r * cols + c0 + j];
            }
        }
    }
    return v;
}

// @b
@group(0) @binding(2) var<storage, read> b: array<f32>;

fn load_b4(base: u32, r: u32, c0: u32, rows: u32, cols: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if r < rows {
        for (var j = 0u; j < 4u; j++) {
            if c0 + j < cols {
                v[j] = b[base + r * cols + c0 + j];
            }
        }
    }
    return v;
}

// @c
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// bias[c0..c0+3], 0 past N; the caller checked c0 < N.
fn load_bias4(c0: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        if c0 + j < p.n {
            v[j] = bias[c0 + j];
        }
    }
    return v;
}

// c[row, c0..c0+3] of the [M, N] matrix at `base`, columns past N skipped (0 when loaded);
// the caller checked row < M and c0 < N.
fn load_c4(base: u32, row: u32, c0: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        if c0 + j < p.n {
            v[j] = c[base + row * p.n + c0 + j];
        }
    }
    return v;
}

fn store_c4(base: u32, row: u32, c0: u32, v: vec4<f32>) {
    for (var j = 0u; j < 4u; j++) {
        if c0 + j < p.n {
            c[base + row * p.n + c0 + j] = v[j];
        }
    }
}
