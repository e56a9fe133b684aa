//! What every recurrent layer does around its cell (as Keras's `RNN` layer does for its
//! cells): the checks of a `[B, T, F]` batch, the input projection of all steps in one op,
//! the output (every step's h, or the last state), the weights' initial values, and backward
//! the rows the weight gradients need and the input gradient.

use rand::rngs::StdRng;

use super::{Dims, Forward, Param};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::elementwise::{BinaryOp, binary};
use crate::ops::gather::gather_rows;
use crate::tensor::Tensor;

/// `(B, T, F)` of a batch for layer `kind` ("lstm", "gru") whose kernel is `[F, G·U]`.
pub(super) fn batch_dims(kind: &str, x: &Tensor, kernel: &Tensor) -> Result<(usize, usize, usize)> {
    let &[b, t, f] = x.dims() else {
        return Err(crate::ops::shape_error(
            kind,
            &[None, None, Some(kernel.dims()[0])],
            x.dims(),
            &format!("{} takes [B, T, F] batches", kind.to_uppercase()),
        ));
    };
    if t == 0 {
        return Err(Error::Empty {
            what: format!("a {} batch of sequences of length 0", kind.to_uppercase()),
            sample: None,
        });
    }
    Ok((b, t, f))
}

/// The layer's output and mask: h at every step `[B, T, U]` with the mask passed on
/// (`return_sequences`), or the last state `[B, U]` (the state at the last unmasked step,
/// since masked steps carry it), unmasked.
pub(super) fn output(
    hseq: &Tensor,
    mask: Option<&Tensor>,
    return_sequences: bool,
    (b, t, u): (usize, usize, usize),
) -> Result<(Tensor, Option<Tensor>)> {
    if return_sequences {
        return Ok((hseq.clone(), mask.cloned()));
    }
    let last: Vec<u32> = (0..b).map(|i| (i * t + t - 1) as u32).collect();
    let idx = Tensor::from_u32(hseq.device(), [b], last)?;
    Ok((gather_rows(&hseq.reshape([b * t, u])?, &idx)?, None))
}

/// The output dims for the input's time dim.
pub(super) fn output_dims(return_sequences: bool, time: Option<usize>, u: usize) -> Dims {
    if return_sequences {
        vec![time, Some(u)]
    } else {
        vec![Some(u)]
    }
}

/// `(T, F)` of the per-sample input dims `[T, F]` (F known), for layer `kind`.
pub(super) fn input_features(kind: &str, input: &Dims) -> Result<(Option<usize>, usize)> {
    let [time, Some(features)] = input[..] else {
        return Err(Error::Config(format!(
            "{} takes [T, F] samples with F known, got {}",
            kind.to_uppercase(),
            crate::error::fmt_dims(input)
        )));
    };
    Ok((time, features))
}

/// A recurrent layer's weights in Keras's order: kernel `[F, G·U]` (glorot_uniform),
/// recurrent_kernel `[U, G·U]` (orthogonal), bias (the cell's shape and initial values); none
/// before the layer is built.
#[derive(Debug, Clone, Default)]
pub(super) struct Weights(Vec<Param>);

impl Weights {
    pub(super) fn new(
        device: &Device,
        (features, u, gates): (usize, usize, usize),
        (bias_dims, bias): (Vec<usize>, Vec<f32>),
        rng: &mut StdRng,
    ) -> Result<Weights> {
        let kernel = Initializer::GlorotUniform.sample(&[features, gates * u], rng)?;
        let recurrent = Initializer::Orthogonal.sample(&[u, gates * u], rng)?;
        Ok(Weights(vec![
            Param::new(
                "kernel",
                Tensor::from_vec(device, [features, gates * u], kernel)?,
            ),
            Param::new(
                "recurrent_kernel",
                Tensor::from_vec(device, [u, gates * u], recurrent)?,
            ),
            Param::new("bias", Tensor::from_vec(device, bias_dims, bias)?),
        ]))
    }

    /// kernel, recurrent_kernel and bias, once built (`kind` names the layer otherwise).
    pub(super) fn get(&self, kind: &str) -> Result<(&Tensor, &Tensor, &Tensor)> {
        match &self.0[..] {
            [k, r, b] => Ok((&k.value, &r.value, &b.value)),
            _ => Err(Error::Config(format!(
                "{} used before it was built (compile the model first)",
                kind.to_uppercase()
            ))),
        }
    }

    pub(super) fn params(&self) -> Vec<&Param> {
        self.0.iter().collect()
    }

    pub(super) fn params_mut(&mut self) -> Vec<&mut Param> {
        self.0.iter_mut().collect()
    }
}

/// The rows of `[B·T, *]` tensors the weight gradients need: on the CPU only the unmasked
/// steps' (a masked step's dz is zero, so its rows add nothing), by an index; on a GPU (or
/// when every step or none is masked) all of them.
pub struct Rows {
    idx: Option<Tensor>,
    n: usize,
}

impl Rows {
    /// The rows kept under the `[B, T]` mask, of tensors of `n = B·T` rows.
    pub(super) fn new(mask: Option<&Tensor>, n: usize) -> Result<Rows> {
        let Some(mask) = mask.filter(|m| matches!(m.device(), Device::Cpu)) else {
            return Ok(Rows { idx: None, n });
        };
        let kept: Vec<u32> = (0u32..)
            .zip(mask.to_vec_blocking()?)
            .filter_map(|(i, m)| (m != 0.0).then_some(i))
            .collect();
        if kept.is_empty() || kept.len() == mask.numel() {
            return Ok(Rows { idx: None, n });
        }
        let idx = Tensor::from_u32(mask.device(), [kept.len()], kept)?;
        Ok(Rows { idx: Some(idx), n })
    }

    /// The kept rows' indices into B·T (none: every row).
    pub(super) fn idx(&self) -> Option<&Tensor> {
        self.idx.as_ref()
    }

    /// The kept rows of `t`: `[B·T, C]`.
    pub(super) fn kept(&self, t: &Tensor) -> Result<Tensor> {
        self.idx
            .as_ref()
            .map_or_else(|| Ok(t.clone()), |idx| gather_rows(t, idx))
    }

    /// The kept rows of a `[B, T, cols]` tensor, as `[rows, cols]`.
    pub(super) fn of(&self, t: &Tensor, cols: usize) -> Result<Tensor> {
        self.kept(&t.reshape([self.n, cols])?)
    }
}

/// The gradients the backward pass starts from: of the last h (`dh_last`) or, with
/// `return_sequences`, of every step's (`dy_seq`).
pub(super) fn output_grads(
    return_sequences: bool,
    dy: &[Tensor],
) -> (Option<&Tensor>, Option<&Tensor>) {
    if return_sequences {
        (None, Some(&dy[0]))
    } else {
        (Some(&dy[0]), None)
    }
}

/// The sequence and the initial state of recurrent layer `kind` (of `n` states: 2 for an
/// LSTM's h and c, 1 otherwise) called on `inputs`: x alone (the state starts at zero), or x
/// then its `n` initial states, as Keras's `layer(x, initial_state=[h, c])`.
pub(super) fn split_inputs<'a, T>(
    kind: &str,
    inputs: &'a [T],
    n: usize,
) -> Result<(&'a T, Option<&'a [T]>)> {
    match inputs {
        [x] => Ok((x, None)),
        [x, states @ ..] if states.len() == n => Ok((x, Some(states))),
        _ => Err(Error::Config(format!(
            "layer {kind} takes one input, or the sequence then its {n} initial state{} \
             (Keras's initial_state), got {} inputs",
            if n == 1 { "" } else { "s (h, c)" },
            inputs.len()
        ))),
    }
}

/// The per-sample dims of `kind`'s inputs checked: `[T, F]`, then each initial state `[U]`;
/// `(T, F)`.
pub(super) fn build_inputs(
    kind: &str,
    inputs: &[Dims],
    n: usize,
    u: usize,
) -> Result<(Option<usize>, usize)> {
    let (x, states) = split_inputs(kind, inputs, n)?;
    for s in states.unwrap_or_default() {
        if !matches!(s[..], [Some(d)] if d == u) && !matches!(s[..], [None]) {
            return Err(Error::Config(format!(
                "{}: an initial state must be [{u}] per sample (the layer's units), got {}",
                kind.to_uppercase(),
                crate::error::fmt_dims(s)
            )));
        }
    }
    input_features(kind, x)
}

/// The output dims: the output's, then with `return_state` one `[U]` per state.
pub(super) fn all_output_dims(
    (return_sequences, return_state): (bool, bool),
    time: Option<usize>,
    (u, n): (usize, usize),
) -> Vec<Dims> {
    let mut dims = vec![output_dims(return_sequences, time, u)];
    if return_state {
        dims.extend((0..n).map(|_| vec![Some(u)]));
    }
    dims
}

/// The layer's forward result: [`output`], then with `return_state` the last state of each
/// of `seqs` (h's, then an LSTM's c's: `[B, U]`, at the last unmasked step), which carry no
/// mask (as Keras's `compute_mask`).
pub(super) fn outputs(
    seqs: &[&Tensor],
    mask: Option<&Tensor>,
    (return_sequences, return_state): (bool, bool),
    dims: (usize, usize, usize),
) -> Result<Forward> {
    let (out, out_mask) = output(seqs[0], mask, return_sequences, dims)?;
    let mut fwd = Forward::one(out, out_mask);
    if return_state {
        for s in seqs {
            fwd.outputs.push(output(s, None, false, dims)?.0);
            fwd.masks.push(None);
        }
    }
    Ok(fwd)
}

/// The gradients the backward pass starts from, with `return_state`: (dh_last, dc_last,
/// dy_seq). The output's gradient is dy_seq (`return_sequences`) or part of dh_last; the
/// state outputs' gradients follow it (h's adds to dh_last, c's is dc_last).
pub(super) fn state_output_grads(
    (return_sequences, return_state): (bool, bool),
    dy: &[Tensor],
) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let (dh_out, dy_seq) = output_grads(return_sequences, dy);
    if !return_state {
        return Ok((dh_out.cloned(), None, dy_seq.cloned()));
    }
    let dh_state = dy.get(1);
    let dh_last = match (dh_out, dh_state) {
        (Some(a), Some(b)) => Some(binary(a, b, BinaryOp::Add)?),
        (a, b) => a.or(b).cloned(),
    };
    Ok((dh_last, dy.get(2).cloned(), dy_seq.cloned()))
}
