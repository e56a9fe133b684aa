//! How the merge layers combine their inputs' masks, as Keras 3 does: the elementwise merges
//! OR the masks when every input has one (else no mask); `Concatenate` ORs them along the
//! feature axis and joins them along any other axis, an unmasked input counting as all kept.

use crate::error::Result;
use crate::ops::elementwise::{BinaryOp, binary, fill};
use crate::ops::merge::concat;
use crate::tensor::Tensor;

/// The OR of the masks (`[B, T]` each, 1 = kept) when every input has one; else `None`.
pub(super) fn or_all(masks: &[Option<&Tensor>]) -> Result<Option<Tensor>> {
    let Some(all) = masks.iter().copied().collect::<Option<Vec<&Tensor>>>() else {
        return Ok(None);
    };
    let mut out = all[0].clone();
    for m in &all[1..] {
        out = binary(&out, m, BinaryOp::Max)?;
    }
    Ok(Some(out))
}

/// `Concatenate`'s mask for inputs of `rank` (batch included) joined along `axis`: `None`
/// when no input has one; along the last axis the OR (an unmasked input keeps every step,
/// so then no mask); along another axis the masks joined, all ones for an unmasked input.
pub(super) fn concatenated(
    inputs: &[&Tensor],
    masks: &[Option<&Tensor>],
    axis: usize,
) -> Result<Option<Tensor>> {
    if masks.iter().all(Option::is_none) {
        return Ok(None);
    }
    let rank = inputs[0].dims().len();
    if axis + 1 == rank {
        return or_all(masks);
    }
    let full: Vec<Tensor> = inputs
        .iter()
        .zip(masks)
        .map(|(x, m)| match m {
            Some(m) => Ok((*m).clone()),
            None => fill(x.device(), x.dims()[..rank - 1].to_vec(), 1.0),
        })
        .collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = full.iter().collect();
    Ok(Some(concat(&refs, axis)?))
}
