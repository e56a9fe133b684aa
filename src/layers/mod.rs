//! Layers: each implements its forward and backward side by side (no autograd tape), on
//! whatever device its weights live on.
//!
//! The Keras layers [`Dense`], [`Embedding`], [`Flatten`], [`Lstm`] and [`Masking`] are here;
//! a layer of your own implements [`Layer`]. Shapes below are per batch: `B` samples, `T`
//! time steps, `F` features.

mod dense;
mod embedding;
mod flatten;
mod lstm;
mod masking;

pub use dense::Dense;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use lstm::Lstm;
pub use masking::Masking;

use ndarray::ArrayViewD;
use rand::rngs::StdRng;

use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A trainable weight and, after a backward pass, its gradient (Keras's `layer.weights`
/// entries). Layers create them in [`Layer::build`] and list them in [`Layer::params`].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use wgfit::layers::{Dense, Layer};
/// let mut dense = Dense::new(3);
/// dense.build(&wgfit::Device::cpu(), &[Some(2)], &mut StdRng::seed_from_u64(0))?;
/// let params = dense.params();
/// assert_eq!(params[0].role, "kernel");
/// assert_eq!(params[0].value.dims(), &[2, 3]);
/// assert!(params[1].grad.is_none()); // no backward pass yet
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Param {
    /// Keras's name for it: `kernel`, `bias`, `recurrent_kernel`, `embeddings`.
    pub role: &'static str,
    /// The weight, on the layer's device.
    pub value: Tensor,
    /// d(loss)/d(value) from the last backward pass.
    pub grad: Option<Tensor>,
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

/// What every layer provides to a model: building its weights, forward and backward passes
/// (Keras's `build`, `call` and the gradient autograd would give).
///
/// A model calls `build` once with the per-sample input shape, then per batch `forward`
/// (through `forward_masked`) with `training` set while fitting, and `backward` with the
/// gradient of the loss w.r.t. the layer's output. Implement it to add a layer of your own:
///
/// ```
/// use rand::rngs::StdRng;
/// use wgfit::layers::{Dims, Layer, Param};
/// use wgfit::ops::elementwise::affine;
/// use wgfit::prelude::*;
/// /// Multiplies its input by a constant; no weights.
/// struct Scale(f32);
/// impl Layer for Scale {
///     fn kind(&self) -> &'static str { "scale" }
///     fn build(&mut self, _: &Device, input: &[Option<usize>], _: &mut StdRng) -> Result<Dims> {
///         Ok(input.to_vec()) // the output shape is the input shape
///     }
///     fn params(&self) -> Vec<&Param> { Vec::new() }
///     fn params_mut(&mut self) -> Vec<&mut Param> { Vec::new() }
///     fn forward(&mut self, x: &Tensor, _training: bool) -> Result<Tensor> { affine(x, self.0, 0.0) }
///     fn backward(&mut self, dy: &Tensor, need_dx: bool) -> Result<Option<Tensor>> {
///         need_dx.then(|| affine(dy, self.0, 0.0)).transpose()
///     }
/// }
/// let mut model = Sequential::new().input_shape([Some(2)]).add(Scale(3.0));
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// let y = model.predict(&ndarray::arr2(&[[1.0f32, -2.0]]))?;
/// assert_eq!(y, ndarray::arr2(&[[3.0f32, -6.0]]).into_dyn());
/// # Ok::<(), wgfit::Error>(())
/// ```
pub trait Layer: Send {
    /// The kind used in weight names (`dense`) and summaries.
    fn kind(&self) -> &'static str;

    /// The per-sample input shape declared on the layer (Keras's `input_shape=`), if any.
    fn declared_input(&self) -> Option<Dims> {
        None
    }

    /// The per-sample input shape the layer accepts, given data whose samples have shape
    /// `sample`: the model's input spec when nothing was declared. Fixed dims by default;
    /// sequence layers leave the time axis free.
    fn input_template(&self, sample: &[usize]) -> Dims {
        sample.iter().map(|&d| Some(d)).collect()
    }

    /// True when the layer must see each batch's raw values on the host before its forward
    /// pass (an Embedding validates token ids and groups positions by token there).
    fn needs_host_input(&self) -> bool {
        false
    }

    /// The batch's raw input on the host (only for the first layer, when it asks); row `r` of
    /// the batch is sample `samples[r]` of the data, for error messages.
    fn observe_input(
        &mut self,
        _x: &ArrayViewD<'_, f32>,
        _batch: usize,
        _samples: &[usize],
    ) -> Result<()> {
        Ok(())
    }

    /// Creates the weights for a per-sample input shape on `device`, drawing initial values
    /// from `rng`; returns the per-sample output shape. An input the layer cannot take (a
    /// wrong rank, an unknown dim it needs) is an [`Error::Config`].
    fn build(&mut self, device: &Device, input: &[Option<usize>], rng: &mut StdRng)
    -> Result<Dims>;

    /// The weights, in Keras's order.
    fn params(&self) -> Vec<&Param>;

    /// The weights, mutably (the optimizer reads their gradients, loading replaces values).
    fn params_mut(&mut self) -> Vec<&mut Param>;

    /// `x: [B, ...input]` -> `[B, ...output]`; keeps what the backward pass needs when
    /// `training`. Using a layer before `build` is an [`Error::Config`].
    fn forward(&mut self, x: &Tensor, training: bool) -> Result<Tensor>;

    /// Forward with a mask `[B, T]` (1 keeps a step): returns the output and the mask for the
    /// next layer. By default the mask passes through unchanged, as through Keras's Dense.
    fn forward_masked(
        &mut self,
        x: &Tensor,
        mask: Option<&Tensor>,
        training: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        Ok((self.forward(x, training)?, mask.cloned()))
    }

    /// `dy: [B, ...output]` -> `dx: [B, ...input]` (only when `need_dx`: the first layer's
    /// input gradient is never used); stores the weights' gradients in their [`Param::grad`].
    /// Called after a training forward; before one it is an [`Error::Config`].
    fn backward(&mut self, dy: &Tensor, need_dx: bool) -> Result<Option<Tensor>>;

    /// The activation applied last, so a loss can fuse with it.
    fn activation(&self) -> Activation {
        Activation::Linear
    }

    /// Backward from the gradient w.r.t. the pre-activation values (the logits), used when
    /// the loss has fused the activation's derivative (softmax/sigmoid + crossentropy).
    fn backward_from_logits(&mut self, _dz: &Tensor, _need_dx: bool) -> Result<Option<Tensor>> {
        Err(Error::Config(format!(
            "layer {} has no logits to fuse a loss with",
            self.kind()
        )))
    }

    /// The pre-activation output of the last forward pass (training or not), if the layer
    /// keeps it.
    fn logits(&self) -> Option<&Tensor> {
        None
    }
}
