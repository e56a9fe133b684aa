// Uses rdrop and p from recurrent.wgsl; prepended to the GRU's and SimpleRNN's row-blocked
// kernels. Recurrent dropout per block of ROWS = 4 batch rows (the masks [G, B, U] follow the
// sequence mask in the mask binding; rdrop is 1 without them).

// Gate g's mask at unit j for the block's rows from b0. A row past the batch reads the last
// row's (in bounds, and its lanes are never written).
fn rdrop_rows(b0: u32, g: u32, j: u32) -> vec4<f32> {
    let last = p.batch - 1u;
    return vec4<f32>(
        rdrop(g, min(b0, last), j),
        rdrop(g, min(b0 + 1u, last), j),
        rdrop(g, min(b0 + 2u, last), j),
        rdrop(g, min(b0 + 3u, last), j),
    );
}

// rdrop_rows of gates 0..count (at most 3) at unit j: ones without recurrent dropout.
fn rdrop_gates(b0: u32, count: u32, j: u32) -> array<vec4<f32>, 3> {
    var m = array<vec4<f32>, 3>(vec4<f32>(1.0), vec4<f32>(1.0), vec4<f32>(1.0));
    for (var g = 0u; g < count; g++) {
        m[g] = rdrop_rows(b0, g, j);
    }
    return m;
}
