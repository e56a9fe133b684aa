//! A Bidirectional layer's states (Keras's `return_state` and `initial_state` through the
//! wrapper): its inputs `[x, s_1, ..., s_2n]` split into x, the forward layer's n initial
//! states and the backward layer's n; its output gradients `[dy..., ds_f..., ds_b...]` split
//! alike; the wrapped layers' input gradients joined back in the inputs' order.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The forward layer's part, then the backward layer's.
type Halves<'a, T> = (&'a [T], &'a [T]);

/// x, then the forward and the backward layer's initial states (each half of the rest, as
/// Keras's `initial_state[:half]`, `initial_state[half:]`), of a Bidirectional over `kind`.
pub(super) fn split<'a, T>(kind: &str, inputs: &'a [T]) -> Result<(&'a T, Halves<'a, T>)> {
    let Some((x, init)) = inputs.split_first() else {
        return Err(Error::Config(format!(
            "layer bidirectional({kind}) takes a sequence, got no input"
        )));
    };
    if init.len() % 2 != 0 {
        return Err(Error::Config(format!(
            "layer bidirectional({kind}) takes the sequence then its initial states, the \
             forward {kind}'s then the backward one's (an even number: [h_f, c_f, h_b, c_b] \
             for an LSTM, [h_f, h_b] for a GRU or a SimpleRNN), got {} state{}",
            init.len(),
            if init.len() == 1 { "" } else { "s" }
        )));
    }
    Ok((x, init.split_at(init.len() / 2)))
}

/// `[x, rest...]`: one direction's inputs (x and its initial states), masks or gradients.
pub(super) fn with<T: Clone>(x: &T, rest: &[T]) -> Vec<T> {
    std::iter::once(x.clone())
        .chain(rest.iter().cloned())
        .collect()
}

/// A wrapped layer's build error when it was given `n` initial states, said as the
/// Bidirectional's (the count it took is half of what the wrapper was called with).
pub(super) fn in_context(kind: &str, n: usize, e: Error) -> Error {
    match e {
        Error::Config(msg) if n > 0 => Error::Config(format!(
            "layer bidirectional({kind}) called with {} initial states gives each direction \
             {n}: {msg}",
            2 * n
        )),
        e => e,
    }
}

/// The output gradients `[dy..., ds_f..., ds_b...]` of a Bidirectional with `merged` merged
/// outputs (one, or two with `MergeMode::None`) whose directions return `n` states each. A
/// graph passes gradients only up to the last output it reads, so the list may stop early:
/// the missing states' gradients are zero (the wrapped layers take as many as they get).
pub(super) fn split_grads(
    dy: &[Tensor],
    merged: usize,
    n: usize,
) -> Result<(&[Tensor], Halves<'_, Tensor>)> {
    if dy.is_empty() || dy.len() > merged + 2 * n {
        return Err(Error::Config(format!(
            "bidirectional backward: {} output gradients for {merged} merged output(s) and {n} \
             states per direction",
            dy.len()
        )));
    }
    let (dy, states) = dy.split_at(merged.min(dy.len()));
    Ok((dy, states.split_at(n.min(states.len()))))
}

/// Which inputs each direction needs gradients of: x's flag, then its `n` initial states'.
pub(super) fn split_need(need_dx: &[bool], n: usize) -> (Vec<bool>, Vec<bool>) {
    let flag = |i: usize| need_dx.get(i).copied().unwrap_or(false);
    let x = flag(0);
    let forward = (1..=n).map(flag);
    let backward = (n + 1..=2 * n).map(flag);
    (
        std::iter::once(x).chain(forward).collect(),
        std::iter::once(x).chain(backward).collect(),
    )
}

/// A direction's input gradients: x's, and its `n` initial states' (`None` where it gave none).
pub(super) fn input_grads(
    inputs: Vec<Option<Tensor>>,
    n: usize,
) -> (Option<Tensor>, Vec<Option<Tensor>>) {
    let mut inputs = inputs.into_iter();
    let dx = inputs.next().flatten();
    let states = (0..n).map(|_| inputs.next().flatten()).collect();
    (dx, states)
}

/// The output of a wrapped direction, and its states (none without `return_state`).
pub(super) fn first(outputs: Vec<Tensor>) -> Result<(Tensor, Vec<Tensor>)> {
    let mut outputs = outputs.into_iter();
    let y = outputs
        .next()
        .ok_or_else(|| Error::Config("Bidirectional: the wrapped layer gave no output".into()))?;
    Ok((y, outputs.collect()))
}
