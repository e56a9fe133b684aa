//! Layers: each implements its forward and backward side by side (no autograd tape), on
//! whatever device its weights live on.
//!
//! The Keras layers here: [`Dense`], [`Embedding`], [`Flatten`], [`Masking`], the recurrent
//! layers [`Lstm`], [`Gru`] and [`SimpleRnn`] (one [`Rnn`] over a small cell each) and
//! [`Bidirectional`], the merge layers ([`Concatenate`], [`Add`], [`Subtract`], [`Multiply`],
//! [`Average`], [`Maximum`], [`Minimum`]), [`Dropout`] and [`SpatialDropout1D`] (seeded, see
//! there) and the preprocessing layer [`Normalization`]. A layer of your own implements
//! [`Layer`]. Shapes below are per batch: `B` samples, `T` time steps, `F` features.

mod bidirectional;
mod config;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod gru;
mod lstm;
mod masking;
mod merge;
mod normalization;
mod recurrent;
mod rnn;
mod rnn_dropout;
mod simple_rnn;
mod spatial_dropout;

pub use bidirectional::{Bidirectional, MergeMode, Recurrent};
pub(crate) use config::from_config;
pub use config::{LayerConfig, LayerConstructor, register_layer};
pub use dense::Dense;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use gru::Gru;
pub use lstm::Lstm;
pub use masking::Masking;
pub use merge::{Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract};
pub use normalization::Normalization;
pub use rnn::Rnn;
pub use simple_rnn::SimpleRnn;
pub use spatial_dropout::SpatialDropout1D;

use std::any::Any;

use rand::rngs::StdRng;

use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result, fmt_dims};
use crate::tensor::Tensor;

/// A trainable weight (Keras's `layer.weights` entries). Layers create them in
/// [`Layer::build`] and list them in [`Layer::params`]; gradients come back from
/// [`Layer::backward`], in the same order.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use wgfit::layers::{Dense, Layer};
/// let mut dense = Dense::new(3);
/// dense.build(&wgfit::Device::cpu(), &[vec![Some(2)]], &mut StdRng::seed_from_u64(0))?;
/// let params = dense.params();
/// assert_eq!(params[0].role, "kernel");
/// assert_eq!(params[0].value.dims(), &[2, 3]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Param {
    /// Keras's name for it: `kernel`, `bias`, `recurrent_kernel`, `embeddings`.
    pub role: &'static str,
    /// The weight, on the layer's device.
    pub value: Tensor,
}

impl Param {
    /// A weight named `role` holding `value`.
    pub fn new(role: &'static str, value: Tensor) -> Param {
        Param { role, value }
    }
}

/// A per-sample shape (no batch dim); `None` for a dim of any size (a sequence's time axis),
/// as a `None` in Keras's `input_shape=(None, 10)`.
///
/// ```
/// use wgfit::layers::{Dims, Lstm};
/// let any_length: Dims = vec![None, Some(10)]; // sequences of any length, 10 features
/// let lstm = Lstm::new(8).input_shape(any_length);
/// # let _ = lstm;
/// ```
pub type Dims = Vec<Option<usize>>;

/// A sequence layer's template: the data's per-sample dims with the time axis (the first)
/// left free, so batches of any length pass the input spec.
pub(crate) fn any_length(sample: &[usize]) -> Dims {
    sample
        .iter()
        .enumerate()
        .map(|(i, &d)| (i > 0).then_some(d))
        .collect()
}

/// What a layer's input `i` takes: values (f32) or integer ids below a bound (an
/// Embedding's vocabulary). The model turns an [`Input`](crate::Input) that feeds id layers
/// into a u32 tensor, checked against the bound where batches are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// f32 values.
    Values,
    /// Integer ids in `0..vocab`, as u32.
    Ids {
        /// Ids must be below this.
        vocab: usize,
    },
}

/// What a layer does with masks, as Keras traces it: which Keras ops compute its output's
/// mask and whether its call reads its input's mask. Forward passes compute masks
/// themselves; this only lets a model order its layers as Keras's `model.layers` does, since
/// Keras counts the ops it traces for masks in its graph's depths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskFlow {
    /// Passes its input's mask on unchanged (Keras's default `compute_mask`; Dense).
    Passes,
    /// Reads its input's mask; passes it on when `keeps` (a recurrent layer returning
    /// sequences), else outputs none.
    Reads {
        /// Whether the output carries the input's mask.
        keeps: bool,
    },
    /// Outputs no mask (Flatten).
    Drops,
    /// Makes a mask from its input's values in `ops` traced ops (Masking: `not_equal`, `any`;
    /// Embedding with `mask_zero`: `not_equal`).
    Makes {
        /// Ops in the chain.
        ops: usize,
    },
    /// Merges its inputs' masks: the OR when every input has one (elementwise merges), or
    /// Keras's Concatenate ops (`concatenate`).
    Merges {
        /// Concatenate's mask ops rather than an OR.
        concatenate: bool,
    },
}

/// What a layer's forward pass returns: its outputs with their masks (one each), and what
/// its backward pass will need (kept by the model for each place the layer is applied).
pub struct Forward {
    /// The outputs, `[B, ...]` each.
    pub outputs: Vec<Tensor>,
    /// Each output's mask (`[B, T]`, 1 keeps a step), or `None`.
    pub masks: Vec<Option<Tensor>>,
    /// What backward needs; empty after an inference forward.
    pub saved: Saved,
}

impl Forward {
    /// One output with its mask, nothing saved.
    pub fn one(output: Tensor, mask: Option<Tensor>) -> Forward {
        Forward {
            outputs: vec![output],
            masks: vec![mask],
            saved: Saved(None),
        }
    }

    /// Keeps `saved` for the backward pass when `training` (else nothing is kept).
    #[must_use]
    pub fn saving<T: Any + Send>(mut self, training: bool, saved: impl FnOnce() -> T) -> Self {
        if training {
            self.saved = Saved(Some(Box::new(saved())));
        }
        self
    }
}

/// What a layer's forward pass left for its backward pass (any type the layer chooses).
pub struct Saved(Option<Box<dyn Any + Send>>);

impl Saved {
    /// The saved value as the type the layer stored; an [`Error::Config`] naming `layer` when
    /// there is none (a backward without a training forward).
    pub fn get<T: Any>(&self, layer: &str) -> Result<&T> {
        self.0
            .as_ref()
            .and_then(|b| b.downcast_ref::<T>())
            .ok_or_else(|| Error::Config(format!("{layer}: backward before a training forward")))
    }
}

/// What a layer's backward pass returns: the gradient for each input (`None` where it was not
/// asked for or the input has none, as token ids) and for each weight, in
/// [`Layer::params`] order.
pub struct Backward {
    /// d(loss)/d(input `i`).
    pub inputs: Vec<Option<Tensor>>,
    /// d(loss)/d(weight `j`).
    pub params: Vec<Tensor>,
}

/// What every layer provides to a model: building its weights for its input shapes, forward
/// and backward passes (Keras's `build`, `call` and the gradient autograd would give).
///
/// A model calls `build` once with the per-sample shapes of the layer's inputs, then per
/// batch `forward` (with `training` set while fitting) and, after a training forward,
/// `backward` with the gradient of the loss w.r.t. each output and what that forward saved.
/// Forward and backward take `&self`: a layer applied at two places of a graph keeps one set
/// of weights, and the model keeps each place's saved values and sums the weight gradients.
/// Implement it to add a layer of your own:
///
/// ```
/// use rand::rngs::StdRng;
/// use wgfit::layers::{Backward, Dims, Forward, Layer, Saved};
/// use wgfit::ops::elementwise::affine;
/// use wgfit::prelude::*;
/// /// Multiplies its input by a constant; no weights.
/// struct Scale(f32);
/// impl Layer for Scale {
///     fn kind(&self) -> &'static str { "scale" }
///     fn build(&mut self, _: &Device, inputs: &[Dims], _: &mut StdRng) -> Result<Vec<Dims>> {
///         Ok(inputs.to_vec()) // the output shape is the input shape
///     }
///     fn forward(&self, x: &[&Tensor], masks: &[Option<&Tensor>], _training: bool) -> Result<Forward> {
///         Ok(Forward::one(affine(x[0], self.0, 0.0)?, masks[0].cloned()))
///     }
///     fn backward(&self, _: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
///         let dx = need_dx[0].then(|| affine(&dy[0], self.0, 0.0)).transpose()?;
///         Ok(Backward { inputs: vec![dx], params: Vec::new() })
///     }
/// }
/// let mut model = Sequential::new().input_shape([Some(2)]).add(Scale(3.0));
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// let y = model.predict(&ndarray::arr2(&[[1.0f32, -2.0]]))?;
/// assert_eq!(y, ndarray::arr2(&[[3.0f32, -6.0]]).into_dyn());
/// # Ok::<(), wgfit::Error>(())
/// ```
pub trait Layer: Send {
    /// The kind used in weight names (`dense`), default layer names and summaries.
    fn kind(&self) -> &'static str;

    /// The per-sample input shape declared on the layer (Keras's `input_shape=`), if any.
    fn declared_input(&self) -> Option<Dims> {
        None
    }

    /// The per-sample input shape the layer accepts, given data whose samples have shape
    /// `sample`: a `Sequential`'s input spec when nothing was declared. Fixed dims by
    /// default; sequence layers leave the time axis free.
    fn input_template(&self, sample: &[usize]) -> Dims {
        sample.iter().map(|&d| Some(d)).collect()
    }

    /// What each input takes (values by default).
    fn accepts(&self) -> Accepts {
        Accepts::Values
    }

    /// What it does with masks, as Keras traces it (passes them on by default); used for
    /// Keras's layer order only.
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Passes
    }

    /// Creates the weights for the per-sample shapes of the inputs on `device`, drawing
    /// initial values from `rng`; returns the per-sample shape of each output. An input the
    /// layer cannot take (a wrong rank or count, an unknown dim it needs) is an
    /// [`Error::Config`].
    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>>;

    /// The weights, in Keras's order (none by default: a layer without weights).
    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }

    /// The weights, mutably (loading replaces values; the optimizer updates them in place).
    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }

    /// The non-trainable weights (Keras's `non_trainable_weights`: a
    /// [`Normalization`]'s mean and variance), which the optimizer never touches and
    /// backward gives no gradient for. A model lists them after the layer's
    /// [`params`](Layer::params), as Keras's `layer.weights` does, when it gets, sets, saves
    /// or loads weights. None by default.
    fn state(&self) -> Vec<&Param> {
        Vec::new()
    }

    /// The non-trainable weights, mutably (loading replaces their values).
    fn state_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }

    /// `inputs[i]: [B, ...input_i]` with their masks -> the outputs with theirs, keeping what
    /// backward needs when `training`. Masks pass through unchanged unless the layer says
    /// otherwise, as through Keras's Dense. Using a layer before `build` is an
    /// [`Error::Config`].
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward>;

    /// `dy[k]: [B, ...output_k]` -> d(loss)/d(inputs) (each only where `need_dx[i]`) and the
    /// weights' gradients, from what the training forward `saved`.
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward>;

    /// Hands the activation this layer applies last to the model when it is one a loss can be
    /// computed from logits with (softmax, sigmoid): the layer outputs pre-activation values
    /// from then on and returns the activation, which the model applies itself. The model
    /// asks this of a layer whose output is a model output, at compile. `None` by default
    /// (nothing to hand over).
    fn split_activation(&mut self) -> Option<Activation> {
        None
    }

    /// What the layer is, as data (Keras's `get_config()` under its class name), for
    /// [`Model::save`](crate::Model::save): every built-in layer gives one. A layer of your
    /// own gives one to be saved, and registers a constructor for its class with
    /// [`register_layer`] to be loaded. By default an [`Error::Config`] saying the kind
    /// cannot be saved yet.
    fn config(&self) -> Result<LayerConfig> {
        Err(Error::Config(format!(
            "layer kind '{}' cannot be saved yet: give it Layer::config and register its \
             constructor with wgfit::register_layer",
            self.kind()
        )))
    }
}

/// A layer's one input, or an [`Error::Config`] naming the layer when it got several.
pub(crate) fn single<'a, T>(kind: &str, inputs: &'a [T]) -> Result<&'a T> {
    match inputs {
        [x] => Ok(x),
        _ => Err(Error::Config(format!(
            "layer {kind} takes one input, got {}",
            inputs.len()
        ))),
    }
}

/// A layer's one input shape, or an [`Error::Config`] naming the layer.
pub(crate) fn single_dims<'a>(kind: &str, inputs: &'a [Dims]) -> Result<&'a Dims> {
    single(kind, inputs).map_err(|_| {
        Error::Config(format!(
            "layer {kind} takes one input, got {} ({})",
            inputs.len(),
            inputs
                .iter()
                .map(|d| fmt_dims(d))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// A positive size argument (units, vocabulary), or the [`Error::Config`] Keras gives.
pub(crate) fn positive(what: &str, value: usize) -> Result<usize> {
    if value == 0 {
        return Err(Error::Config(format!(
            "{what} must be a positive integer, got 0"
        )));
    }
    Ok(value)
}
