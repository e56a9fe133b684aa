//! `Lstm`: Keras's `LSTM(units, return_sequences=...)` over `[B, T, F]` sequences of any T,
//! consuming the mask of the layers before it: the [`Rnn`] layer over the LSTM cell (this
//! file), whose op pair is `ops::lstm_cell`.
//!
//! Weights as Keras: kernel `[F, 4U]` (glorot_uniform), recurrent_kernel `[U, 4U]` (orthogonal),
//! bias `[4U]` (zeros, forget gate 1); gates i, f, c, o; tanh and sigmoid activations.

use super::recurrent::Rows;
use super::rnn::{Cell, Rnn};
use super::rnn_dropout::recurrent_grad;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::lstm_cell::{LstmStates, lstm_backward_to_state, lstm_forward_from};
use crate::ops::recurrent::{RecurrentInputs, RecurrentKernel, StateGrads};
use crate::ops::reduce::sum;
use crate::tensor::Tensor;

/// A long short-term memory layer, as Keras's `LSTM(units, return_sequences=...)`:
/// `x: [B, T, F]` (any `T`) -> the last state `[B, units]`, or every step's output
/// `[B, T, units]` with `return_sequences`.
///
/// Masked steps (from [`Masking`](crate::layers::Masking) or
/// [`Embedding::mask_zero`](crate::layers::Embedding::mask_zero)) are skipped: the state is
/// carried over them. Weights as Keras's: `kernel: [F, 4·units]`,
/// `recurrent_kernel: [units, 4·units]`, `bias: [4·units]` (gates i, f, c, o). A batch that
/// is not `[B, T, F]` is an [`Error::Shape`]; one with `T = 0`, [`Error::Empty`].
///
/// Keras's encoder-decoder pattern: [`return_state`](Lstm::return_state) adds the last h and
/// c as outputs, and a layer called on three nodes (`call_many(&[&x, &h, &c])`, Keras's
/// `LSTM(...)(x, initial_state=[h, c])`) starts from that state instead of zeros, its
/// gradients flowing back into the layers that made it. An initial state is extra inputs of
/// the layer's node, as in Keras's functional graphs, so it needs no other call form.
///
/// ```
/// use wgfit::prelude::*;
/// let source = Input::new([None, Some(3)]);
/// let encoded = Lstm::new(4).return_state(true).call(&source); // [output, h, c]
/// let (h, c) = (encoded.output(1)?, encoded.output(2)?);
/// let target = Input::new([None, Some(2)]);
/// let decoded = Lstm::new(4).return_sequences(true).call_many(&[&target, &h, &c]);
/// let mut model = Model::new(&[&source, &target], &Dense::new(2).call(&decoded))?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(model.count_params(), 2 * (3 * 16 + 4 * 16 + 16) - 16 + 10);
/// # Ok::<(), wgfit::Error>(())
/// ```
///
/// ```
/// use wgfit::prelude::*;
/// let x = ndarray::Array3::<f32>::zeros((2, 7, 3)); // 2 sequences, 7 steps, 3 features
/// let mut last = Sequential::new().add(Lstm::new(4).input_shape([None, Some(3)]));
/// last.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(last.predict(&x)?.shape(), &[2, 4]);           // the last state
/// assert_eq!(last.count_params(), 3 * 16 + 4 * 16 + 16);
/// let mut seq = Sequential::new().add(Lstm::new(4).return_sequences(true).input_shape([None, Some(3)]));
/// seq.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(seq.predict(&x)?.shape(), &[2, 7, 4]);         // every step
/// # Ok::<(), wgfit::Error>(())
/// ```
#[doc(alias = "LSTM")]
pub type Lstm = Rnn<LstmCell>;

/// The LSTM cell of [`Lstm`]: gates i, f, c, o; states h and c.
#[derive(Debug, Clone, Copy, Default)]
pub struct LstmCell;

impl Cell for LstmCell {
    type States = LstmStates;
    const KIND: &'static str = "lstm";
    const NAME: &'static str = "LSTM";
    const GATES: usize = 4;
    const STATES: usize = 2;

    fn bias(&self, u: usize) -> (Vec<usize>, Vec<f32>) {
        let mut bias = vec![0.0; 4 * u];
        // unit_forget_bias: the forget gate starts open.
        bias[u..2 * u].fill(1.0);
        (vec![4 * u], bias)
    }

    fn split_bias(&self, bias: &Tensor, _u: usize) -> Result<(Tensor, Option<Tensor>)> {
        Ok((bias.clone(), None))
    }

    fn forward(
        &self,
        (xp, rk, _): (&Tensor, &Tensor, Option<&Tensor>),
        inputs: RecurrentInputs<'_, &[&Tensor]>,
        kernel: RecurrentKernel,
    ) -> Result<LstmStates> {
        let start = inputs.init.map(|s| (s[0], s[1]));
        let inputs = RecurrentInputs::new()
            .mask(inputs.mask)
            .init(start)
            .rdrop(inputs.rdrop);
        lstm_forward_from(xp, rk, inputs, kernel)
    }

    fn seqs(states: &LstmStates) -> Vec<&Tensor> {
        vec![&states.hseq, &states.cseq]
    }

    fn backward(
        &self,
        states: &LstmStates,
        rk: &Tensor,
        mask: Option<&Tensor>,
        grads: (Option<&Tensor>, Option<&Tensor>, Option<&Tensor>),
        kernel: RecurrentKernel,
    ) -> Result<StateGrads> {
        lstm_backward_to_state(states, rk, mask, grads, kernel)
    }

    // drecurrent[:, g] = (hprev ⊙ r_g)ᵀ dz_g (hprevᵀ dz without recurrent dropout),
    // dbias = Σ dz
    fn weight_grads(
        &self,
        s: &LstmStates,
        dz_k: &Tensor,
        rows: &Rows,
        u: usize,
    ) -> Result<(Tensor, Tensor)> {
        let drecurrent = recurrent_grad(&s.hprev, s.rdrop.as_ref(), (0, 4), dz_k, rows, u)?;
        Ok((drecurrent, sum(dz_k, 0)?))
    }
}
