//! `Gru`: Keras's `GRU(units, return_sequences=..., reset_after=...)` over `[B, T, F]`
//! sequences of any T, consuming the mask of the layers before it: the [`Rnn`] layer over the
//! GRU cell (this file), whose op pair is `ops::gru_cell`.
//!
//! Weights as Keras: kernel `[F, 3U]` (glorot_uniform), recurrent_kernel `[U, 3U]`
//! (orthogonal), bias `[2, 3U]` (input bias, then recurrent bias; zeros) or `[3U]` without
//! reset_after; gates z, r, h; tanh and sigmoid activations.

use super::recurrent::Rows;
use super::rnn::{Cell, Rnn};
use super::rnn_dropout::recurrent_grad;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::elementwise::{BinaryOp, binary};
use crate::ops::gru_cell::{GruReset, GruStates, gru_backward_to_state, gru_forward_from};
use crate::ops::matmul::{Transpose, matmul};
use crate::ops::merge::{concat, slice};
use crate::ops::recurrent::{RecurrentInputs, RecurrentKernel, StateGrads};
use crate::ops::reduce::sum;
use crate::tensor::Tensor;

/// A gated recurrent unit layer, as Keras's `GRU(units, return_sequences=...,
/// reset_after=...)`: `x: [B, T, F]` (any `T`) -> the last state `[B, units]`, or every
/// step's output `[B, T, units]` with `return_sequences`.
///
/// Masked steps (from [`Masking`](crate::layers::Masking) or
/// [`Embedding::mask_zero`](crate::layers::Embedding::mask_zero)) are skipped: the state is
/// carried over them. Weights as Keras's: `kernel: [F, 3·units]`,
/// `recurrent_kernel: [units, 3·units]`, `bias: [2, 3·units]` (input and recurrent biases;
/// `[3·units]` with `reset_after(false)`), gates z, r, h. A batch that is not `[B, T, F]` is
/// an [`Error::Shape`]; one with `T = 0`, [`Error::Empty`]. On a GPU it runs per-step or
/// persistent kernels ([`Rnn::kernel`]).
///
/// ```
/// use wgfit::prelude::*;
/// let x = ndarray::Array3::<f32>::zeros((2, 7, 3)); // 2 sequences, 7 steps, 3 features
/// let mut last = Sequential::new().add(Gru::new(4).input_shape([None, Some(3)]));
/// last.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(last.predict(&x)?.shape(), &[2, 4]);           // the last state
/// assert_eq!(last.count_params(), 3 * 12 + 4 * 12 + 2 * 12);
/// let mut seq = Sequential::new()
///     .add(Gru::new(4).return_sequences(true).reset_after(false).input_shape([None, Some(3)]));
/// seq.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(seq.predict(&x)?.shape(), &[2, 7, 4]);         // every step
/// assert_eq!(seq.count_params(), 3 * 12 + 4 * 12 + 12);     // one bias
/// # Ok::<(), wgfit::Error>(())
/// ```
#[doc(alias = "GRU")]
pub type Gru = Rnn<GruCell>;

impl Gru {
    /// Keras's `reset_after`: `true` (the default) applies the reset gate after the
    /// recurrent product, with a recurrent bias (`bias: [2, 3·units]`); `false` before it
    /// (`bias: [3·units]`).
    #[must_use]
    pub fn reset_after(self, on: bool) -> Self {
        self.with_cell(GruCell { reset_after: on })
    }
}

/// The GRU cell of [`Gru`]: gates z, r, h; reset after the recurrent product (Keras's
/// default) or before it.
#[derive(Debug, Clone, Copy)]
pub struct GruCell {
    reset_after: bool,
}

impl GruCell {
    pub(crate) fn new(reset_after: bool) -> Self {
        GruCell { reset_after }
    }

    pub(crate) fn resets_after(&self) -> bool {
        self.reset_after
    }
}

impl Default for GruCell {
    fn default() -> Self {
        GruCell { reset_after: true }
    }
}

impl Cell for GruCell {
    type States = GruStates;
    const KIND: &'static str = "gru";
    const NAME: &'static str = "GRU";
    const GATES: usize = 3;
    const STATES: usize = 1;

    // zeros (Keras's bias_initializer); reset_after keeps an input and a recurrent row
    fn bias(&self, u: usize) -> (Vec<usize>, Vec<f32>) {
        let dims = if self.reset_after {
            vec![2, 3 * u]
        } else {
            vec![3 * u]
        };
        let zeros = vec![0.0; dims.iter().product()];
        (dims, zeros)
    }

    // reset_after: bias row 0 goes into xp, row 1 into the cell
    fn split_bias(&self, bias: &Tensor, u: usize) -> Result<(Tensor, Option<Tensor>)> {
        if !self.reset_after {
            return Ok((bias.clone(), None));
        }
        let row = |i| slice(bias, 0, i, 1)?.reshape([3 * u]);
        Ok((row(0)?, Some(row(1)?)))
    }

    fn forward(
        &self,
        (xp, rk, rb): (&Tensor, &Tensor, Option<&Tensor>),
        inputs: RecurrentInputs<'_, &[&Tensor]>,
        kernel: RecurrentKernel,
    ) -> Result<GruStates> {
        let reset = rb.map_or(GruReset::Before, GruReset::After);
        let inputs = RecurrentInputs::new()
            .mask(inputs.mask)
            .init(inputs.init.map(|s| s[0]))
            .rdrop(inputs.rdrop);
        gru_forward_from(xp, rk, reset, inputs, kernel)
    }

    fn seqs(states: &GruStates) -> Vec<&Tensor> {
        vec![&states.hseq]
    }

    fn backward(
        &self,
        states: &GruStates,
        rk: &Tensor,
        mask: Option<&Tensor>,
        (dh, _, dy_seq): (Option<&Tensor>, Option<&Tensor>, Option<&Tensor>),
        kernel: RecurrentKernel,
    ) -> Result<StateGrads> {
        gru_backward_to_state(states, rk, mask, (dh, dy_seq), kernel)
    }

    // h_g = hprev ⊙ r_g (hprev without recurrent dropout); reset_after:
    // dhz = [dz_z, dz_r, dz_h ⊙ r], drecurrent[:, g] = h_gᵀ dhz_g, dbias = [Σ dz; Σ dhz];
    // before: drecurrent = [h_gᵀ dz_g for z, r; hnᵀ dz_h] (hn = r ⊙ h_h), dbias = Σ dz
    fn weight_grads(
        &self,
        s: &GruStates,
        dz_k: &Tensor,
        rows: &Rows,
        u: usize,
    ) -> Result<(Tensor, Tensor)> {
        let (hprev, rdrop) = (&s.hprev, s.rdrop.as_ref());
        let dz_zr = slice(dz_k, 1, 0, 2 * u)?;
        let dz_h = slice(dz_k, 1, 2 * u, u)?;
        if self.reset_after {
            let r = slice(&rows.of(&s.gates, 3 * u)?, 1, u, u)?;
            let dhz = concat(&[&dz_zr, &binary(&dz_h, &r, BinaryOp::Mul)?], 1)?;
            let dbias = concat(&[&sum(dz_k, 0)?, &sum(&dhz, 0)?], 0)?.reshape([2, 3 * u])?;
            Ok((recurrent_grad(hprev, rdrop, (0, 3), &dhz, rows, u)?, dbias))
        } else {
            let zr = recurrent_grad(hprev, rdrop, (0, 2), &dz_zr, rows, u)?;
            let h = matmul(&rows.of(&s.hn, u)?, &dz_h, Transpose::A)?;
            Ok((concat(&[&zr, &h], 1)?, sum(dz_k, 0)?))
        }
    }
}
