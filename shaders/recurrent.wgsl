// Shared by the recurrent kernels (LSTM, GRU, SimpleRNN), prepended by the host: the
// uniform every recurrent kernel reads (ops::recurrent::Params) and the flat index of an
// invocation in a grid split over two dimensions.

struct Params {
    batch: u32,
    steps: u32,
    units: u32,
    t: u32,
    // The step range of a persistent kernel (the LSTM's); per-step kernels run step t.
    t_end: u32,
    has_mask: u32,
    // Read by the backward kernels only.
    has_dy_seq: u32,
    // The state starts at the layer's initial state, not zero: the host leaves h0 in hprev's
    // step 0 (and an LSTM's c0 in cseq's step 0 forward, after dc backward).
    has_init: u32,
    // Recurrent dropout masks follow the sequence mask in the kernel's `mask` binding.
    has_rdrop: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// Gate g's recurrent dropout mask for batch row b, unit j (1 without recurrent dropout): the
// masks [G, B, U] follow the [B, T] sequence mask (or B·T filler values) in the `mask`
// binding every recurrent kernel declares, so they cost no binding of their own.
fn rdrop(g: u32, b: u32, j: u32) -> f32 {
    if p.has_rdrop == 0u {
        return 1.0;
    }
    return mask[p.batch * p.steps + (g * p.batch + b) * p.units + j];
}
