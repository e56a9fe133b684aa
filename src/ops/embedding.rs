//! Embedding gradient (`shaders/embedding.wgsl`); the lookup itself is `gather::gather_rows`.
//!
//! ids: the batch's token ids (host, flat, each < V), dy: `[P, D]` (P = ids.len())
//! -> grad: `[V, D]`, grad\[v\] = Σ over positions p with ids\[p\] = v of dy\[p\], summed in position
//! order (deterministic), 0 for unused tokens.

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, loop_ranges, shape_error};
use crate::device::{Device, Kernel};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "embedding",
    source: include_str!("../../shaders/embedding.wgsl"),
    params: Params::LAYOUT,
    entries: &[("embedding_backward", 4)],
    trusted: false,
};

params! {
    struct Params {
        vocab: u32,
        dim: u32,
        // The stretch of each token's positions this dispatch adds.
        lo: u32,
        hi: u32,
    }
}

/// Positions grouped by token (a counting sort): `offsets[v]..offsets[v + 1]` index into
/// `positions`, which lists each token's positions in increasing order. Returns
/// `(offsets, positions)`, of lengths `vocab + 1` and `ids.len()`.
///
/// # Errors
/// [`Error::Data`] for an id `>= vocab`.
///
/// ```
/// use wgfit::ops::embedding::positions_by_token;
/// let (offsets, positions) = positions_by_token(&[2, 0, 2], 3)?;
/// assert_eq!(offsets, vec![0, 1, 1, 3]); // token 0: 1 position, 1: none, 2: two
/// assert_eq!(positions, vec![1, 0, 2]);
/// assert!(positions_by_token(&[3], 3).is_err());
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn positions_by_token(ids: &[u32], vocab: usize) -> Result<(Vec<u32>, Vec<u32>)> {
    let mut offsets = vec![0u32; vocab + 1];
    for (p, &id) in ids.iter().enumerate() {
        if id as usize >= vocab {
            return Err(Error::Data(format!(
                "token id {id} at position {p} is not below the vocabulary size {vocab}"
            )));
        }
        offsets[id as usize + 1] += 1;
    }
    for v in 0..vocab {
        offsets[v + 1] += offsets[v];
    }
    let mut next = offsets.clone();
    let mut positions = vec![0u32; ids.len()];
    for (p, &id) in ids.iter().enumerate() {
        positions[next[id as usize] as usize] = p as u32;
        next[id as usize] += 1;
    }
    Ok((offsets, positions))
}

/// d(loss)/d(embeddings) for a batch with token `ids` and output gradient `dy`: `[P, D]`.
///
/// `ids` are the batch's token ids flattened (`P = ids.len()`, e.g. `B * T`); dy may have
/// any shape of `P * D` elements with `D` last (e.g. `[B, T, D]`). Returns `[vocab, D]`:
/// row v sums dy's rows at the positions holding token v, in position order (deterministic).
///
/// # Errors
/// [`Error::Shape`] when dy does not hold one row per id;
/// [`Error::Data`] for an id `>= vocab` or a u32 dy.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::embedding::embedding_backward;
/// let dy = Tensor::from_vec(&Device::cpu(), [3, 2], vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0])?;
/// let grad = embedding_backward(&[2, 0, 2], 3, &dy)?;
/// assert_eq!(grad.dims(), &[3, 2]);
/// assert_eq!(grad.to_vec_blocking()?, vec![2.0, 2.0, 0.0, 0.0, 4.0, 4.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn embedding_backward(ids: &[u32], vocab: usize, dy: &Tensor) -> Result<Tensor> {
    let device = f32_device("embedding_backward", &[dy])?;
    let dim = dy.dims().last().copied().unwrap_or(0);
    if dy.numel() != ids.len() * dim {
        return Err(shape_error(
            "embedding_backward",
            &[Some(ids.len()), Some(dim)],
            dy.dims(),
            "dy must have one row per token",
        ));
    }
    let (offsets, positions) = positions_by_token(ids, vocab)?;
    let out_shape = Shape(vec![vocab, dim]);
    match &device {
        Device::Cpu => {
            let g = host(dy);
            let mut grad = vec![0.0f32; vocab * dim];
            for v in 0..vocab {
                for &p in &positions[offsets[v] as usize..offsets[v + 1] as usize] {
                    for d in 0..dim {
                        grad[v * dim + d] += g.f32()[p as usize * dim + d];
                    }
                }
            }
            Tensor::from_vec(&device, out_shape, grad)
        }
        Device::Gpu(ctx) => {
            let most_used = offsets.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
            let offsets = Tensor::from_u32(&device, [offsets.len()], offsets)?;
            let positions = Tensor::from_u32(&device, [positions.len()], positions)?;
            let out = gpu_output(ctx, &out_shape)?;
            for (lo, hi) in loop_ranges(ctx, most_used as usize, |trips| trips) {
                let params = Params {
                    vocab: vocab as u32,
                    dim: dim as u32,
                    lo,
                    hi,
                };
                ctx.dispatch(
                    &KERNEL,
                    "embedding_backward",
                    &[buf(&offsets), buf(&positions), buf(dy), &out],
                    bytemuck::bytes_of(&params),
                    groups(vocab * dim),
                )?;
            }
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}
