//! `Gru`: Keras's `GRU(units, return_sequences=..., reset_after=...)` over `[B, T, F]`
//! sequences of any T, consuming the mask of the layers before it. Forward and backward side
//! by side; the cell and its driver are `ops::gru_cell` and `ops::recurrent`.
//!
//! Weights as Keras: kernel `[F, 3U]` (glorot_uniform), recurrent_kernel `[U, 3U]`
//! (orthogonal), bias `[2, 3U]` (input bias, then recurrent bias; zeros) or `[3U]` without
//! reset_after; gates z, r, h; tanh and sigmoid activations.

use rand::rngs::StdRng;

use super::recurrent::{
    Weights, all_output_dims, batch_dims, build_inputs, input_grad, kept, kept_index, outputs,
    project, split_inputs, state_output_grads,
};
use super::{Backward, Dims, Forward, Layer, MaskFlow, Param, Saved, positive};
use crate::device::Device;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::elementwise::{BinaryOp, binary};
use crate::ops::gru_cell::{GruReset, GruStates, gru_backward_to_state, gru_forward_from};
use crate::ops::matmul::{Transpose, matmul};
use crate::ops::merge::{concat, slice};
use crate::ops::recurrent::{RecurrentInputs, RecurrentKernel};
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
/// an [`Error::Shape`]; one with `T = 0`, [`Error::Empty`]. On a GPU it runs per-step
/// kernels (a persistent GRU kernel is not written yet).
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
#[derive(Debug, Clone)]
pub struct Gru {
    units: usize,
    return_sequences: bool,
    return_state: bool,
    reset_after: bool,
    input: Option<Dims>,
    weights: Weights,
    gru_kernel: RecurrentKernel,
}

#[derive(Debug, Clone)]
struct Cache {
    x: Tensor, // [B*T, F]
    states: GruStates,
    mask: Option<Tensor>,
    in_dims: Vec<usize>,
    // called with an initial state, whose gradient backward returns
    init: bool,
}

impl Gru {
    /// A GRU of `units` units (Keras's defaults: tanh and sigmoid activations, Glorot uniform
    /// kernel, orthogonal recurrent kernel, zero biases, `reset_after=True`), returning the
    /// last state.
    pub fn new(units: usize) -> Self {
        Gru {
            units,
            return_sequences: false,
            return_state: false,
            reset_after: true,
            input: None,
            weights: Weights::default(),
            gru_kernel: RecurrentKernel::Auto,
        }
    }

    /// Output every step's h `[B, T, units]` instead of the last state `[B, units]` (Keras's
    /// `return_sequences=True`); the mask passes on.
    #[must_use]
    pub fn return_sequences(mut self, on: bool) -> Self {
        self.return_sequences = on;
        self
    }

    /// Output the last state too: `[output, h]` (Keras's `return_state=True`), h `[B, units]`
    /// at the last unmasked step, without a mask; take it with
    /// [`Node::output`](crate::Node::output). Called on two nodes (`call_many(&[&x, &h])`,
    /// Keras's `initial_state=[h]`), the layer starts from h instead of zeros (see
    /// [`Lstm`](crate::layers::Lstm) for the encoder-decoder pattern).
    #[must_use]
    pub fn return_state(mut self, on: bool) -> Self {
        self.return_state = on;
        self
    }

    /// Keras's `reset_after`: `true` (the default) applies the reset gate after the
    /// recurrent product, with a recurrent bias (`bias: [2, 3·units]`); `false` before it
    /// (`bias: [3·units]`).
    #[must_use]
    pub fn reset_after(mut self, on: bool) -> Self {
        self.reset_after = on;
        self
    }

    /// Which GPU kernels run this layer's forward and backward passes: per-step dispatches,
    /// the persistent kernels (units <= 256; more is an [`Error::Config`] when the layer runs
    /// on a GPU), or (the default) [`RecurrentKernel::Auto`], the op's choice by the adapter's
    /// type and the units. The CPU reference ignores it.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// use wgfit::ops::recurrent::RecurrentKernel;
    /// let x = ndarray::Array3::<f32>::ones((2, 5, 3));
    /// let mut outputs = Vec::new();
    /// for kernel in [RecurrentKernel::Auto, RecurrentKernel::PerStep, RecurrentKernel::Persistent] {
    ///     let gru = Gru::new(4).kernel(kernel).input_shape([None, Some(3)]);
    ///     let mut m = Sequential::new().seed(7).add(gru);
    ///     m.compile(&Device::auto()?, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    ///     outputs.push(m.predict(&x)?);
    /// }
    /// // The same states whichever kernels ran (to rounding on a GPU).
    /// for out in &outputs[1..] {
    ///     assert!(out.iter().zip(&outputs[0]).all(|(a, b)| (a - b).abs() < 1e-5));
    /// }
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn kernel(mut self, kernel: RecurrentKernel) -> Self {
        self.gru_kernel = kernel;
        self
    }

    /// The per-sample input shape when this is the first layer, e.g. `[None, Some(10)]` for
    /// any length of 10 features (Keras's `input_shape=(None, 10)`).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    /// Row `i` of a `[2, 3U]` bias as `[3U]`.
    fn bias_row(&self, bias: &Tensor, i: usize) -> Result<Tensor> {
        slice(bias, 0, i, 1)?.reshape([3 * self.units])
    }
}

impl Layer for Gru {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Reads {
            keeps: self.return_sequences,
        }
    }

    fn kind(&self) -> &'static str {
        "gru"
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let u = positive("GRU units", self.units)?;
        let (time, features) = build_inputs("gru", inputs, 1, u)?;
        // zeros (Keras's bias_initializer); reset_after keeps an input and a recurrent row
        let bias_dims = if self.reset_after {
            vec![2, 3 * u]
        } else {
            vec![3 * u]
        };
        let zeros = vec![0.0; bias_dims.iter().product()];
        self.weights = Weights::new(device, (features, u, 3), (bias_dims, zeros), rng)?;
        let returns = (self.return_sequences, self.return_state);
        Ok(all_output_dims(returns, time, (u, 1)))
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.params()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.params_mut()
    }

    // x: [B, T, F]; xp = x · kernel + input bias: [B, T, 3U]; the cell runs over T steps
    // (with the recurrent bias, reset_after); out = h at every step [B, T, U], or the last
    // state [B, U]
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let (&x, init) = split_inputs("gru", inputs, 1)?;
        let mask = masks.first().copied().flatten();
        let (kernel, recurrent, bias) = self.weights.get("gru")?;
        let (b, t, f) = batch_dims("gru", x, kernel)?;
        // reset_after: bias row 0 goes into xp, row 1 into the cell
        let biases = if self.reset_after {
            (self.bias_row(bias, 0)?, Some(self.bias_row(bias, 1)?))
        } else {
            (bias.clone(), None)
        };
        let (x2, xp) = project(x, kernel, &biases.0, (b, t, f))?;
        let reset = biases.1.as_ref().map_or(GruReset::Before, GruReset::After);
        let h0 = init.map(|s| s[0]);
        let states = gru_forward_from(
            &xp,
            recurrent,
            reset,
            RecurrentInputs::new().mask(mask).init(h0),
            self.gru_kernel,
        )?;
        let returns = (self.return_sequences, self.return_state);
        let fwd = outputs(&[&states.hseq], mask, returns, (b, t, self.units))?;
        Ok(fwd.saving(training, || Cache {
            x: x2,
            states,
            mask: mask.cloned(),
            in_dims: vec![b, t, f],
            init: init.is_some(),
        }))
    }

    // dz = BPTT(dy) [B*T, 3U]; dkernel = xᵀ dz, dx = dz kernelᵀ; reset_after:
    // dhz = [dz_z, dz_r, dz_h ⊙ r], drecurrent = hprevᵀ dhz, dbias = [Σ dz; Σ dhz];
    // before: drecurrent = [hprevᵀ dz_zr, hnᵀ dz_h] (hn = r ⊙ hprev), dbias = Σ dz
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("gru")?;
        let (kernel, recurrent, _) = self.weights.get("gru")?;
        let (b, t) = (cache.in_dims[0], cache.in_dims[1]);
        let u = self.units;
        let (dh, _, dy_seq) = state_output_grads((self.return_sequences, self.return_state), dy)?;
        let s = &cache.states;
        let grads = gru_backward_to_state(
            s,
            recurrent,
            cache.mask.as_ref(),
            (dh.as_ref(), dy_seq.as_ref()),
            self.gru_kernel,
        )?;
        let dz = grads.dz.reshape([b * t, 3 * u])?;
        let idx = kept_index(cache.mask.as_ref())?;
        // the kept rows of a [B, T, cols] state as [rows, cols]
        let rows = |x: &Tensor, cols: usize| kept(idx.as_ref(), &x.reshape([b * t, cols])?);
        let dz_k = kept(idx.as_ref(), &dz)?;
        let hprev = rows(&s.hprev, u)?;
        let dz_zr = slice(&dz_k, 1, 0, 2 * u)?;
        let dz_h = slice(&dz_k, 1, 2 * u, u)?;
        let (drecurrent, dbias) = if self.reset_after {
            let r = slice(&rows(&s.gates, 3 * u)?, 1, u, u)?;
            let dhz = concat(&[&dz_zr, &binary(&dz_h, &r, BinaryOp::Mul)?], 1)?;
            let dbias = concat(&[&sum(&dz_k, 0)?, &sum(&dhz, 0)?], 0)?.reshape([2, 3 * u])?;
            (matmul(&hprev, &dhz, Transpose::A)?, dbias)
        } else {
            let hn = rows(&s.hn, u)?;
            let zr = matmul(&hprev, &dz_zr, Transpose::A)?;
            let h = matmul(&hn, &dz_h, Transpose::A)?;
            (concat(&[&zr, &h], 1)?, sum(&dz_k, 0)?)
        };
        let params = vec![
            matmul(&kept(idx.as_ref(), &cache.x)?, &dz_k, Transpose::A)?,
            drecurrent,
            dbias,
        ];
        let dx = input_grad(need_dx[0], &dz, kernel, &cache.in_dims)?;
        let mut inputs = vec![dx];
        if cache.init {
            inputs.push(Some(grads.dh0));
        }
        Ok(Backward { inputs, params })
    }
}

impl super::Recurrent for Gru {
    fn returns_sequences(&self) -> bool {
        self.return_sequences
    }
}
