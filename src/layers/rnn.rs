//! `Rnn<C>`: the one recurrent layer every cell kind shares (as Keras's `RNN` layer is for its
//! cells): the builder, the build of the weights, the input projection (with its dropout), the
//! outputs and states, and the backward pass's weight and input gradients. A [`Cell`] brings
//! only what differs: its gates, bias, states and the op pair that runs it.
//! [`Lstm`](super::Lstm), [`Gru`](super::Gru) and [`SimpleRnn`](super::SimpleRnn) are this
//! layer over their cells.

use std::fmt::Debug;

use rand::rngs::StdRng;

use super::dropout::MaskStream;
use super::recurrent::{
    Rows, Weights, all_output_dims, batch_dims, build_inputs, outputs, split_inputs,
    state_output_grads,
};
use super::rnn_dropout::{Rates, input_grad, kernel_grad, project};
use super::{Backward, Dims, Forward, Layer, MaskFlow, Param, Saved, positive};

mod config;
use crate::device::Device;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::ops::recurrent::{RecurrentInputs, RecurrentKernel, StateGrads};
use crate::tensor::Tensor;

/// What one kind of recurrent cell brings to [`Rnn`] (Keras's `LSTMCell`, `GRUCell`,
/// `SimpleRNNCell`). Sealed: the cells are wgfit's own, since each runs fused kernels.
pub trait Cell: Clone + Debug + Default + Send + Sync + 'static {
    /// What the forward op keeps for the backward op.
    #[doc(hidden)]
    type States: Clone + Debug + Send + 'static;
    /// The kind in weight names and messages (`lstm`).
    #[doc(hidden)]
    const KIND: &'static str;
    /// Keras's name for the layer (`LSTM`), in messages.
    #[doc(hidden)]
    const NAME: &'static str;
    /// Gates G: the kernels are `[F, G·U]` and `[U, G·U]`.
    #[doc(hidden)]
    const GATES: usize;
    /// States carried between steps (and given as initial states): 2 for an LSTM's h and c.
    #[doc(hidden)]
    const STATES: usize;

    /// The bias's dims and initial values for `u` units.
    #[doc(hidden)]
    fn bias(&self, u: usize) -> (Vec<usize>, Vec<f32>);

    /// The bias split in the part added to xp (`[G·U]`) and the cell's own (a GRU's
    /// recurrent bias, `[G·U]`), if any.
    #[doc(hidden)]
    fn split_bias(&self, bias: &Tensor, u: usize) -> Result<(Tensor, Option<Tensor>)>;

    // weights: (xp [B, T, G·U], rk [U, G·U], the cell bias); inputs: mask [B, T], init
    // (STATES tensors [B, U]), rdrop [G, B, U] -> states (keeping rdrop)
    #[doc(hidden)]
    fn forward(
        &self,
        weights: (&Tensor, &Tensor, Option<&Tensor>),
        inputs: RecurrentInputs<'_, &[&Tensor]>,
        kernel: RecurrentKernel,
    ) -> Result<Self::States>;

    /// The sequences the outputs come from, h's `[B, T, U]` first (then an LSTM's c's).
    #[doc(hidden)]
    fn seqs(states: &Self::States) -> Vec<&Tensor>;

    // grads: (dh_last [B, U], dc_last [B, U], dy_seq [B, T, U]) -> dz [B, T, G·U], dh0, dc0
    #[doc(hidden)]
    fn backward(
        &self,
        states: &Self::States,
        rk: &Tensor,
        mask: Option<&Tensor>,
        grads: (Option<&Tensor>, Option<&Tensor>, Option<&Tensor>),
        kernel: RecurrentKernel,
    ) -> Result<StateGrads>;

    // dz_k: the kept rows [N, G·U] of dz -> (drecurrent [U, G·U], dbias)
    #[doc(hidden)]
    fn weight_grads(
        &self,
        states: &Self::States,
        dz_k: &Tensor,
        rows: &Rows,
        u: usize,
    ) -> Result<(Tensor, Tensor)>;
}

/// A recurrent layer over cell `C`: use it as [`Lstm`](super::Lstm), [`Gru`](super::Gru) or
/// [`SimpleRnn`](super::SimpleRnn) (Keras's `LSTM`, `GRU`, `SimpleRNN`), whose pages show
/// examples. `x: [B, T, F]` (any `T`) -> the last state `[B, units]`, or every step's output
/// `[B, T, units]` with [`return_sequences`](Rnn::return_sequences).
///
/// Masked steps (from [`Masking`](crate::layers::Masking) or
/// [`Embedding::mask_zero`](crate::layers::Embedding::mask_zero)) are skipped: the state is
/// carried over them. Weights as Keras's: `kernel: [F, G·units]`,
/// `recurrent_kernel: [units, G·units]` and the cell's bias. A batch that is not `[B, T, F]`
/// is an [`Error::Shape`]; one with `T = 0`, [`Error::Empty`].
#[derive(Debug, Clone)]
pub struct Rnn<C> {
    cell: C,
    units: usize,
    return_sequences: bool,
    return_state: bool,
    input: Option<Dims>,
    weights: Weights,
    kernel: RecurrentKernel,
    rates: Rates,
    stream: MaskStream,
}

#[derive(Debug, Clone)]
struct Cache<S> {
    // x as [B·T, F], dropped by the input mask when there is one (not when one per gate)
    x: Tensor,
    // the input dropout masks [n, B, F] (n = 1, or G with recurrent dropout)
    drop: Option<Tensor>,
    states: S,
    mask: Option<Tensor>,
    in_dims: Vec<usize>,
    // called with an initial state, whose gradients backward returns
    init: bool,
}

impl<C: Cell> Rnn<C> {
    /// A layer of `units` units with Keras's defaults (tanh and sigmoid activations, Glorot
    /// uniform kernel, orthogonal recurrent kernel, the cell's bias), returning the last state.
    pub fn new(units: usize) -> Self {
        Rnn {
            cell: C::default(),
            units,
            return_sequences: false,
            return_state: false,
            input: None,
            weights: Weights::default(),
            kernel: RecurrentKernel::Auto,
            rates: Rates::default(),
            stream: MaskStream::new(),
        }
    }

    /// The layer with another cell of its kind (a GRU's `reset_after`).
    pub(super) fn with_cell(mut self, cell: C) -> Self {
        self.cell = cell;
        self
    }

    /// Output every step's h `[B, T, units]` instead of the last state `[B, units]` (Keras's
    /// `return_sequences=True`, for stacking recurrent layers or a per-step output); the mask
    /// passes on.
    #[must_use]
    pub fn return_sequences(mut self, on: bool) -> Self {
        self.return_sequences = on;
        self
    }

    /// Output the last state too (Keras's `return_state=True`): `[output, h, c]` for an
    /// LSTM, `[output, h]` for a GRU or SimpleRNN; each state `[B, units]` at the last
    /// unmasked step, without a mask; take them with [`Node::output`](crate::Node::output).
    /// Called on the sequence then its initial states (`call_many(&[&x, &h, &c])`, Keras's
    /// `initial_state=[h, c]`), the layer starts from them instead of zeros (see
    /// [`Lstm`](super::Lstm) for the encoder-decoder pattern).
    #[must_use]
    pub fn return_state(mut self, on: bool) -> Self {
        self.return_state = on;
        self
    }

    /// Which GPU kernels run this layer's forward and backward passes: per-step dispatches,
    /// the persistent kernels (units <= 256; more is an [`Error::Config`] when the layer runs
    /// on a GPU), or (the default) [`RecurrentKernel::Auto`], the op's choice by the adapter's
    /// type and the units. The CPU reference ignores it. Benchmarks set it to compare the two
    /// on one GPU.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// use wgfit::layers::Layer;
    /// use wgfit::ops::recurrent::RecurrentKernel;
    /// let x = ndarray::Array3::<f32>::ones((2, 5, 3));
    /// let layers: [fn(RecurrentKernel) -> Box<dyn Layer>; 3] = [
    ///     |k| Box::new(Lstm::new(4).kernel(k)),
    ///     |k| Box::new(Gru::new(4).kernel(k)),
    ///     |k| Box::new(SimpleRnn::new(4).kernel(k)),
    /// ];
    /// for layer in layers {
    ///     let mut outputs = Vec::new();
    ///     for kernel in [RecurrentKernel::Auto, RecurrentKernel::PerStep, RecurrentKernel::Persistent] {
    ///         let mut m = Sequential::new().seed(7).input_shape([None, Some(3)]).add_boxed(layer(kernel));
    ///         m.compile(&Device::auto()?, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    ///         outputs.push(m.predict(&x)?);
    ///     }
    ///     // The same states whichever kernels ran (to rounding on a GPU).
    ///     for out in &outputs[1..] {
    ///         assert!(out.iter().zip(&outputs[0]).all(|(a, b)| (a - b).abs() < 1e-5));
    ///     }
    /// }
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn kernel(mut self, kernel: RecurrentKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The per-sample input shape when this is the first layer, e.g. `[None, Some(10)]` for
    /// any length of 10 features (Keras's `input_shape=(None, 10)`).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    /// Drops a fraction `rate` (in `[0, 1)`) of the input features while training (Keras's
    /// `dropout=`): one mask per sample `[B, F]` drawn per batch and used at every step
    /// (one per gate with [`recurrent_dropout`](Rnn::recurrent_dropout), as Keras's
    /// implementation 1), kept features scaled by `1 / (1 - rate)`; the identity in
    /// `predict` and `evaluate`. Masks are seeded and reproducible as
    /// [`Dropout`](crate::layers::Dropout)'s, bit for bit on every device. A rate outside
    /// `[0, 1)` is an [`Error::Config`] naming the layer, at build.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new()
    ///     .add(Gru::new(4).dropout(0.2).seed(7).input_shape([None, Some(3)]))
    ///     .add(Dense::new(1));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// let x = ndarray::Array3::<f32>::ones((8, 5, 3));
    /// let y = ndarray::Array1::<f32>::zeros(8);
    /// model.fit(&x, &y, FitOptions::new().epochs(2).verbose(0))?; // masks drawn while fitting
    /// assert_eq!(model.predict(&x)?, model.predict(&x)?);         // none at inference
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn dropout(mut self, rate: f32) -> Self {
        self.rates.input = rate;
        self
    }

    /// Drops a fraction `rate` (in `[0, 1)`) of the recurrent state's units while training
    /// (Keras's `recurrent_dropout=`): per gate one mask `[B, units]` drawn per batch and
    /// used at every step on h_{t-1} in the recurrent products (an LSTM's c and a GRU's final
    /// mix see the undropped state). The identity in `predict` and `evaluate`. A rate outside
    /// `[0, 1)` is an [`Error::Config`] naming the layer, at build.
    #[must_use]
    pub fn recurrent_dropout(mut self, rate: f32) -> Self {
        self.rates.recurrent = rate;
        self
    }

    /// The seed of this layer's dropout masks (Keras's `seed=`), instead of one drawn from
    /// the model's seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.stream.fix(seed);
        self
    }
}

impl<C: Cell> Layer for Rnn<C> {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Reads {
            keeps: self.return_sequences,
        }
    }

    fn kind(&self) -> &'static str {
        C::KIND
    }

    fn config(&self) -> Result<super::LayerConfig> {
        Ok(self.to_config())
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let u = positive(&format!("{} units", C::NAME), self.units)?;
        let (time, features) = build_inputs(C::KIND, inputs, C::STATES, u)?;
        self.rates.check(C::NAME)?;
        let bias = self.cell.bias(u);
        self.weights = Weights::new(device, (features, u, C::GATES), bias, rng)?;
        // Only a layer that drops draws its masks' seed, so a model without dropout keeps
        // the initial weights it had before recurrent dropout existed.
        if self.rates.any() {
            self.stream.build(rng);
        }
        let returns = (self.return_sequences, self.return_state);
        Ok(all_output_dims(returns, time, (u, C::STATES)))
    }

    fn params(&self) -> Vec<&Param> {
        self.weights.params()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.weights.params_mut()
    }

    // x: [B, T, F]; xp = x · kernel + bias: [B, T, G·U] (x dropped while training); the cell
    // runs over T steps; out = h at every step [B, T, U], or the last state [B, U] (the state
    // at the last unmasked step, since masked steps carry it)
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let (&x, init) = split_inputs(C::KIND, inputs, C::STATES)?;
        let mask = masks.first().copied().flatten();
        let (kernel, recurrent, bias) = self.weights.get(C::KIND)?;
        let (b, t, f) = batch_dims(C::KIND, x, kernel)?;
        let u = self.units;
        let (xp_bias, cell_bias) = self.cell.split_bias(bias, u)?;
        let drops = self.rates.draw(
            (&self.stream, C::NAME, C::GATES),
            training,
            x.device(),
            (b, f, u),
        )?;
        let (x_k, xp) = project(x, kernel, &xp_bias, drops.input.as_ref(), (b, t, f))?;
        let states = self.cell.forward(
            (&xp, recurrent, cell_bias.as_ref()),
            RecurrentInputs::new()
                .mask(mask)
                .init(init)
                .rdrop(drops.recurrent.as_ref()),
            self.kernel,
        )?;
        let returns = (self.return_sequences, self.return_state);
        let fwd = outputs(&C::seqs(&states), mask, returns, (b, t, u))?;
        Ok(fwd.saving(training, || Cache {
            x: x_k,
            drop: drops.input,
            states,
            mask: mask.cloned(),
            in_dims: vec![b, t, f],
            init: init.is_some(),
        }))
    }

    // dz = BPTT(dy) [B·T, G·U]; dkernel = x_dᵀ dz (x_d: x dropped), the cell's drecurrent
    // and dbias, dx = (dz kernelᵀ) ⊙ the input masks
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache<C::States> = saved.get(C::KIND)?;
        let (kernel, recurrent, _) = self.weights.get(C::KIND)?;
        let (b, t) = (cache.in_dims[0], cache.in_dims[1]);
        let u = self.units;
        let returns = (self.return_sequences, self.return_state);
        let (dh, dc, dy_seq) = state_output_grads(returns, dy)?;
        let mask = cache.mask.as_ref();
        let grads = (dh.as_ref(), dc.as_ref(), dy_seq.as_ref());
        let grads = self
            .cell
            .backward(&cache.states, recurrent, mask, grads, self.kernel)?;
        let dz = grads.dz.reshape([b * t, C::GATES * u])?;
        let rows = Rows::new(mask, b * t)?;
        let dz_k = rows.kept(&dz)?;
        let dkernel = kernel_grad(&cache.x, cache.drop.as_ref(), &dz_k, &rows, (b, t))?;
        let (drecurrent, dbias) = self.cell.weight_grads(&cache.states, &dz_k, &rows, u)?;
        let dx = need_dx[0]
            .then(|| input_grad(&dz, kernel, cache.drop.as_ref(), &cache.in_dims))
            .transpose()?;
        let mut inputs = vec![dx];
        if cache.init {
            let state_grads = [Some(grads.dh0), grads.dc0];
            inputs.extend(state_grads.into_iter().take(C::STATES));
        }
        Ok(Backward {
            inputs,
            params: vec![dkernel, drecurrent, dbias],
        })
    }
}

impl<C: Cell> super::Recurrent for Rnn<C> {
    fn returns_sequences(&self) -> bool {
        self.return_sequences
    }
}
