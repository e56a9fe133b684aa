//! `Lstm`: Keras's `LSTM(units, return_sequences=...)` over `[B, T, F]` sequences of any T,
//! consuming the mask of the layers before it. Forward and backward side by side.
//!
//! Weights as Keras: kernel `[F, 4U]` (glorot_uniform), recurrent_kernel `[U, 4U]` (orthogonal),
//! bias `[4U]` (zeros, forget gate 1); gates i, f, c, o; tanh and sigmoid activations.

use rand::rngs::StdRng;

use super::recurrent::{
    Weights, all_output_dims, batch_dims, build_inputs, input_grad, outputs, project,
    shared_dz_grads, split_inputs, state_output_grads,
};
use super::{Backward, Dims, Forward, Layer, MaskFlow, Param, Saved, positive};
use crate::device::Device;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::lstm_cell::{LstmKernel, LstmStates, lstm_backward_to_state, lstm_forward_from};
use crate::ops::recurrent::RecurrentInputs;
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
#[derive(Debug, Clone)]
pub struct Lstm {
    units: usize,
    return_sequences: bool,
    return_state: bool,
    input: Option<Dims>,
    weights: Weights,
    lstm_kernel: LstmKernel,
}

#[derive(Debug, Clone)]
struct Cache {
    x: Tensor, // [B*T, F]
    states: LstmStates,
    mask: Option<Tensor>,
    in_dims: Vec<usize>,
    // called with an initial state, whose gradients backward returns
    init: bool,
}

impl Lstm {
    /// An LSTM of `units` units (Keras's defaults: tanh and sigmoid activations, Glorot
    /// uniform kernel, orthogonal recurrent kernel, unit forget bias), returning the last state.
    pub fn new(units: usize) -> Self {
        Lstm {
            units,
            return_sequences: false,
            return_state: false,
            input: None,
            weights: Weights::default(),
            lstm_kernel: LstmKernel::Auto,
        }
    }

    /// Output every step's h `[B, T, units]` instead of the last state `[B, units]` (Keras's
    /// `return_sequences=True`, for stacking LSTMs or a per-step output); the mask passes on.
    #[must_use]
    pub fn return_sequences(mut self, on: bool) -> Self {
        self.return_sequences = on;
        self
    }

    /// Output the last state too: `[output, h, c]` (Keras's `return_state=True`), h and c
    /// `[B, units]` at the last unmasked step, without a mask; take them with
    /// [`Node::output`](crate::Node::output).
    #[must_use]
    pub fn return_state(mut self, on: bool) -> Self {
        self.return_state = on;
        self
    }

    /// Which GPU kernels run this layer's forward and backward passes: per-step dispatches,
    /// the persistent kernels (units <= 256), or (the default) [`LstmKernel::Auto`], the op's
    /// choice by the adapter's type and the units. The CPU reference ignores it. Benchmarks
    /// set it to compare the two on one GPU.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// use wgfit::ops::lstm_cell::LstmKernel;
    /// let x = ndarray::Array3::<f32>::ones((2, 5, 3));
    /// let mut outputs = Vec::new();
    /// for kernel in [LstmKernel::Auto, LstmKernel::PerStep, LstmKernel::Persistent] {
    ///     let mut m = Sequential::new().seed(7).add(Lstm::new(4).kernel(kernel).input_shape([None, Some(3)]));
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
    pub fn kernel(mut self, kernel: LstmKernel) -> Self {
        self.lstm_kernel = kernel;
        self
    }

    /// The per-sample input shape when this is the first layer, e.g. `[None, Some(10)]` for
    /// any length of 10 features (Keras's `input_shape=(None, 10)`).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }
}

impl Layer for Lstm {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Reads {
            keeps: self.return_sequences,
        }
    }

    fn kind(&self) -> &'static str {
        "lstm"
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let u = positive("LSTM units", self.units)?;
        let (time, features) = build_inputs("lstm", inputs, 2, u)?;
        let mut bias = vec![0.0; 4 * u];
        // unit_forget_bias: the forget gate starts open.
        bias[u..2 * u].fill(1.0);
        self.weights = Weights::new(device, (features, u, 4), (vec![4 * u], bias), rng)?;
        let returns = (self.return_sequences, self.return_state);
        Ok(all_output_dims(returns, time, (u, 2)))
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.params()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.params_mut()
    }

    // x: [B, T, F]; xp = x · kernel + bias: [B, T, 4U]; the cell runs over T steps;
    // out = h at every step [B, T, U], or the last state [B, U] (the state at the last
    // unmasked step, since masked steps carry it)
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let (&x, init) = split_inputs("lstm", inputs, 2)?;
        let mask = masks.first().copied().flatten();
        let (kernel, recurrent, bias) = self.weights.get("lstm")?;
        let (b, t, f) = batch_dims("lstm", x, kernel)?;
        let (x2, xp) = project(x, kernel, bias, (b, t, f))?;
        let start = init.map(|s| (s[0], s[1]));
        let states = lstm_forward_from(
            &xp,
            recurrent,
            RecurrentInputs::new().mask(mask).init(start),
            self.lstm_kernel,
        )?;
        let returns = (self.return_sequences, self.return_state);
        let seqs = [&states.hseq, &states.cseq];
        let fwd = outputs(&seqs, mask, returns, (b, t, self.units))?;
        Ok(fwd.saving(training, || Cache {
            x: x2,
            states,
            mask: mask.cloned(),
            in_dims: vec![b, t, f],
            init: init.is_some(),
        }))
    }

    // dz = BPTT(dy) [B*T, 4U]; dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz,
    // dx = dz kernelᵀ
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("lstm")?;
        let (kernel, recurrent, _) = self.weights.get("lstm")?;
        let (b, t) = (cache.in_dims[0], cache.in_dims[1]);
        let u = self.units;
        let (dh, dc, dy_seq) = state_output_grads((self.return_sequences, self.return_state), dy)?;
        let grads = lstm_backward_to_state(
            &cache.states,
            recurrent,
            cache.mask.as_ref(),
            (dh.as_ref(), dc.as_ref(), dy_seq.as_ref()),
            self.lstm_kernel,
        )?;
        let dz = grads.dz.reshape([b * t, 4 * u])?;
        let params = shared_dz_grads(cache.mask.as_ref(), &cache.x, &cache.states.hprev, &dz)?;
        let dx = input_grad(need_dx[0], &dz, kernel, &cache.in_dims)?;
        let mut inputs = vec![dx];
        if cache.init {
            inputs.extend([Some(grads.dh0), grads.dc0]);
        }
        Ok(Backward { inputs, params })
    }
}

impl super::Recurrent for Lstm {
    fn returns_sequences(&self) -> bool {
        self.return_sequences
    }
}
