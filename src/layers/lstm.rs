//! `Lstm`: Keras's `LSTM(units, return_sequences=...)` over `[B, T, F]` sequences of any T,
//! consuming the mask of the layers before it. Forward and backward side by side.
//!
//! Weights as Keras: kernel `[F, 4U]` (glorot_uniform), recurrent_kernel `[U, 4U]` (orthogonal),
//! bias `[4U]` (zeros, forget gate 1); gates i, f, c, o; tanh and sigmoid activations.

use rand::rngs::StdRng;

use super::recurrent::{
    Weights, batch_dims, input_features, input_grad, output, output_dims, output_grads, project,
    shared_dz_grads,
};
use super::{
    Backward, Dims, Forward, Layer, MaskFlow, Param, Saved, positive, single, single_dims,
};
use crate::device::Device;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::lstm_cell::{LstmKernel, LstmStates, lstm_backward_with, lstm_forward_with};
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
}

impl Lstm {
    /// An LSTM of `units` units (Keras's defaults: tanh and sigmoid activations, Glorot
    /// uniform kernel, orthogonal recurrent kernel, unit forget bias), returning the last state.
    pub fn new(units: usize) -> Self {
        Lstm {
            units,
            return_sequences: false,
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
        let (time, features) = input_features("lstm", single_dims("lstm", inputs)?)?;
        let mut bias = vec![0.0; 4 * u];
        // unit_forget_bias: the forget gate starts open.
        bias[u..2 * u].fill(1.0);
        self.weights = Weights::new(device, (features, u, 4), (vec![4 * u], bias), rng)?;
        Ok(vec![output_dims(self.return_sequences, time, u)])
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
        let x = *single("lstm", inputs)?;
        let mask = masks.first().copied().flatten();
        let (kernel, recurrent, bias) = self.weights.get("lstm")?;
        let (b, t, f) = batch_dims("lstm", x, kernel)?;
        let (x2, xp) = project(x, kernel, bias, (b, t, f))?;
        let states = lstm_forward_with(&xp, recurrent, mask, self.lstm_kernel)?;
        let (out, out_mask) = output(
            &states.hseq,
            mask,
            self.return_sequences,
            (b, t, self.units),
        )?;
        Ok(Forward::one(out, out_mask).saving(training, || Cache {
            x: x2,
            states,
            mask: mask.cloned(),
            in_dims: vec![b, t, f],
        }))
    }

    // dz = BPTT(dy) [B*T, 4U]; dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz,
    // dx = dz kernelᵀ
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("lstm")?;
        let (kernel, recurrent, _) = self.weights.get("lstm")?;
        let (b, t) = (cache.in_dims[0], cache.in_dims[1]);
        let u = self.units;
        let (dh_last, dy_seq) = output_grads(self.return_sequences, dy);
        let dz = lstm_backward_with(
            &cache.states,
            recurrent,
            cache.mask.as_ref(),
            dh_last,
            dy_seq,
            self.lstm_kernel,
        )?
        .reshape([b * t, 4 * u])?;
        let params = shared_dz_grads(cache.mask.as_ref(), &cache.x, &cache.states.hprev, &dz)?;
        let dx = input_grad(need_dx[0], &dz, kernel, &cache.in_dims)?;
        Ok(Backward {
            inputs: vec![dx],
            params,
        })
    }
}

impl super::Recurrent for Lstm {
    fn returns_sequences(&self) -> bool {
        self.return_sequences
    }
}
