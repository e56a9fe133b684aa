//! `SimpleRnn`: Keras's `SimpleRNN(units, return_sequences=...)` (tanh) over `[B, T, F]`
//! sequences of any T, consuming the mask of the layers before it: the [`Rnn`] layer over the
//! simple cell (this file), whose op pair is `ops::simple_rnn_cell`.
//!
//! Weights as Keras: kernel `[F, U]` (glorot_uniform), recurrent_kernel `[U, U]`
//! (orthogonal), bias `[U]` (zeros); `h = tanh(x · kernel + bias + h_prev · recurrent_kernel)`.

use super::recurrent::Rows;
use super::rnn::{Cell, Rnn};
use super::rnn_dropout::recurrent_grad;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::recurrent::{RecurrentInputs, RecurrentKernel, StateGrads};
use crate::ops::reduce::sum;
use crate::ops::simple_rnn_cell::{
    SimpleRnnStates, simple_rnn_backward_to_state, simple_rnn_forward_from,
};
use crate::tensor::Tensor;

/// A fully-connected recurrent layer, as Keras's `SimpleRNN(units, return_sequences=...)`
/// with its default tanh: `x: [B, T, F]` (any `T`) -> the last state `[B, units]`, or every
/// step's output `[B, T, units]` with `return_sequences`.
///
/// Masked steps are skipped (the state is carried over them), as for [`Lstm`](crate::Lstm).
/// Weights as Keras's: `kernel: [F, units]`, `recurrent_kernel: [units, units]`,
/// `bias: [units]`. A batch that is not `[B, T, F]` is an [`Error::Shape`]; one with `T = 0`,
/// [`Error::Empty`]. On a GPU it runs per-step or persistent kernels ([`Rnn::kernel`]).
///
/// ```
/// use wgfit::prelude::*;
/// let x = ndarray::Array3::<f32>::zeros((2, 7, 3)); // 2 sequences, 7 steps, 3 features
/// let mut last = Sequential::new().add(SimpleRnn::new(4).input_shape([None, Some(3)]));
/// last.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(last.predict(&x)?.shape(), &[2, 4]);           // the last state
/// assert_eq!(last.count_params(), 3 * 4 + 4 * 4 + 4);
/// let mut seq = Sequential::new()
///     .add(SimpleRnn::new(4).return_sequences(true).input_shape([None, Some(3)]));
/// seq.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(seq.predict(&x)?.shape(), &[2, 7, 4]);         // every step
/// # Ok::<(), wgfit::Error>(())
/// ```
#[doc(alias = "SimpleRNN")]
pub type SimpleRnn = Rnn<SimpleRnnCell>;

/// The cell of [`SimpleRnn`]: `h = tanh(xp + h_prev · recurrent_kernel)`, one gate.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimpleRnnCell;

impl Cell for SimpleRnnCell {
    type States = SimpleRnnStates;
    const KIND: &'static str = "simple_rnn";
    const NAME: &'static str = "SimpleRNN";
    const GATES: usize = 1;
    const STATES: usize = 1;

    fn bias(&self, u: usize) -> (Vec<usize>, Vec<f32>) {
        (vec![u], vec![0.0; u])
    }

    fn split_bias(&self, bias: &Tensor, _u: usize) -> Result<(Tensor, Option<Tensor>)> {
        Ok((bias.clone(), None))
    }

    fn forward(
        &self,
        (xp, rk, _): (&Tensor, &Tensor, Option<&Tensor>),
        inputs: RecurrentInputs<'_, &[&Tensor]>,
        kernel: RecurrentKernel,
    ) -> Result<SimpleRnnStates> {
        let inputs = RecurrentInputs::new()
            .mask(inputs.mask)
            .init(inputs.init.map(|s| s[0]))
            .rdrop(inputs.rdrop);
        simple_rnn_forward_from(xp, rk, inputs, kernel)
    }

    fn seqs(states: &SimpleRnnStates) -> Vec<&Tensor> {
        vec![&states.hseq]
    }

    fn backward(
        &self,
        states: &SimpleRnnStates,
        rk: &Tensor,
        mask: Option<&Tensor>,
        (dh, _, dy_seq): (Option<&Tensor>, Option<&Tensor>, Option<&Tensor>),
        kernel: RecurrentKernel,
    ) -> Result<StateGrads> {
        simple_rnn_backward_to_state(states, rk, mask, (dh, dy_seq), kernel)
    }

    // drecurrent = (hprev ⊙ r)ᵀ dz (hprevᵀ dz without recurrent dropout), dbias = Σ dz
    fn weight_grads(
        &self,
        s: &SimpleRnnStates,
        dz_k: &Tensor,
        rows: &Rows,
        u: usize,
    ) -> Result<(Tensor, Tensor)> {
        let drecurrent = recurrent_grad(&s.hprev, s.rdrop.as_ref(), (0, 1), dz_k, rows, u)?;
        Ok((drecurrent, sum(dz_k, 0)?))
    }
}
