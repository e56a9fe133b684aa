//! `SimpleRnn`: Keras's `SimpleRNN(units, return_sequences=...)` (tanh) over `[B, T, F]`
//! sequences of any T, consuming the mask of the layers before it. Forward and backward side
//! by side; the cell and its driver are `ops::simple_rnn_cell` and `ops::recurrent`.
//!
//! Weights as Keras: kernel `[F, U]` (glorot_uniform), recurrent_kernel `[U, U]`
//! (orthogonal), bias `[U]` (zeros); `h = tanh(x · kernel + bias + h_prev · recurrent_kernel)`.

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
use crate::ops::recurrent::{RecurrentInputs, RecurrentKernel};
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
/// [`Error::Empty`]. On a GPU it runs per-step kernels.
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
#[derive(Debug, Clone)]
pub struct SimpleRnn {
    units: usize,
    return_sequences: bool,
    return_state: bool,
    input: Option<Dims>,
    weights: Weights,
    rnn_kernel: RecurrentKernel,
}

#[derive(Debug, Clone)]
struct Cache {
    x: Tensor, // [B*T, F]
    states: SimpleRnnStates,
    mask: Option<Tensor>,
    in_dims: Vec<usize>,
    // called with an initial state, whose gradient backward returns
    init: bool,
}

impl SimpleRnn {
    /// A SimpleRNN of `units` units (Keras's defaults: tanh, Glorot uniform kernel,
    /// orthogonal recurrent kernel, zero bias), returning the last state.
    pub fn new(units: usize) -> Self {
        SimpleRnn {
            units,
            return_sequences: false,
            return_state: false,
            input: None,
            weights: Weights::default(),
            rnn_kernel: RecurrentKernel::Auto,
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
    ///     let rnn = SimpleRnn::new(4).kernel(kernel).input_shape([None, Some(3)]);
    ///     let mut m = Sequential::new().seed(7).add(rnn);
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
        self.rnn_kernel = kernel;
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

impl Layer for SimpleRnn {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Reads {
            keeps: self.return_sequences,
        }
    }

    fn kind(&self) -> &'static str {
        "simple_rnn"
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let u = positive("SimpleRNN units", self.units)?;
        let (time, features) = build_inputs("simple_rnn", inputs, 1, u)?;
        let bias = (vec![u], vec![0.0; u]);
        self.weights = Weights::new(device, (features, u, 1), bias, rng)?;
        let returns = (self.return_sequences, self.return_state);
        Ok(all_output_dims(returns, time, (u, 1)))
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.params()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.params_mut()
    }

    // x: [B, T, F]; xp = x · kernel + bias: [B, T, U]; h = tanh(xp + h_prev · rk) over T
    // steps; out = h at every step [B, T, U], or the last state [B, U]
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let (&x, init) = split_inputs("simple_rnn", inputs, 1)?;
        let mask = masks.first().copied().flatten();
        let (kernel, recurrent, bias) = self.weights.get("simple_rnn")?;
        let (b, t, f) = batch_dims("simple_rnn", x, kernel)?;
        let (x2, xp) = project(x, kernel, bias, (b, t, f))?;
        let h0 = init.map(|s| s[0]);
        let states = simple_rnn_forward_from(
            &xp,
            recurrent,
            RecurrentInputs::new().mask(mask).init(h0),
            self.rnn_kernel,
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

    // dz = BPTT(dy) [B*T, U]; dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz,
    // dx = dz kernelᵀ
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("simple_rnn")?;
        let (kernel, recurrent, _) = self.weights.get("simple_rnn")?;
        let (b, t) = (cache.in_dims[0], cache.in_dims[1]);
        let (dh, _, dy_seq) = state_output_grads((self.return_sequences, self.return_state), dy)?;
        let mask = cache.mask.as_ref();
        let s = &cache.states;
        let grads = (dh.as_ref(), dy_seq.as_ref());
        let grads = simple_rnn_backward_to_state(s, recurrent, mask, grads, self.rnn_kernel)?;
        let dz = grads.dz.reshape([b * t, self.units])?;
        let params = shared_dz_grads(mask, &cache.x, &s.hprev, &dz)?;
        let dx = input_grad(need_dx[0], &dz, kernel, &cache.in_dims)?;
        let mut inputs = vec![dx];
        if cache.init {
            inputs.push(Some(grads.dh0));
        }
        Ok(Backward { inputs, params })
    }
}

impl super::Recurrent for SimpleRnn {
    fn returns_sequences(&self) -> bool {
        self.return_sequences
    }
}
