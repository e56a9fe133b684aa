//! Losses with Keras semantics: a per-sample value averaged over the batch, and the gradient
//! that starts the backward pass.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::ops::loss::{
    bce_backward, bce_forward, mse_backward, mse_forward, sigmoid_xent_forward,
};
use crate::ops::softmax::{softmax_xent_backward, softmax_xent_forward};
use crate::tensor::Tensor;

/// A training loss, as Keras's `loss=` strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// One-hot targets `[B, C]`; after a softmax output it is computed from the logits.
    CategoricalCrossentropy,
    /// Integer class targets `[B]` (or `[B, 1]`), converted to one-hot on the host.
    SparseCategoricalCrossentropy,
    /// Targets in [0, 1]; after a sigmoid output it is computed from the logits.
    BinaryCrossentropy,
    /// `mean((pred - y)²)` over the last axis.
    MeanSquaredError,
}

/// Where the loss gradient enters the model: at the output, or (fused) at the logits.
pub(crate) enum Grad {
    Output(Tensor),
    Logits(Tensor),
}

impl Loss {
    /// Keras's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Loss::CategoricalCrossentropy => "categorical_crossentropy",
            Loss::SparseCategoricalCrossentropy => "sparse_categorical_crossentropy",
            Loss::BinaryCrossentropy => "binary_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
        }
    }

    /// Per-sample losses `[B]` and the gradient of their batch mean, from the model's output
    /// `pred` (and `logits`, the last layer's pre-activation values, when the loss fuses).
    /// `y` is one-hot for the sparse loss (converted on the host).
    pub(crate) fn forward_backward(
        self,
        pred: &Tensor,
        logits: Option<&Tensor>,
        last: Activation,
        y: &Tensor,
        want_grad: bool,
    ) -> Result<(Tensor, Option<Grad>)> {
        let rows = pred.dims().first().copied().unwrap_or(1).max(1);
        let cols = (pred.numel() / rows).max(1);
        let batch_mean = 1.0 / rows as f32;
        let elem_mean = 1.0 / (rows * cols) as f32;
        let logits_of = |what: &str| {
            logits.ok_or_else(|| {
                Error::Config(format!(
                    "{what} needs the output layer's logits (run a training forward)"
                ))
            })
        };
        Ok(match (self, last) {
            (Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy, _) => {
                let (probs, loss) = softmax_xent_forward(logits_of(self.name())?, y)?;
                let grad = want_grad
                    .then(|| softmax_xent_backward(&probs, y, batch_mean))
                    .transpose()?;
                (loss, grad.map(Grad::Logits))
            }
            (Loss::BinaryCrossentropy, Activation::Sigmoid) if logits.is_some() => {
                let (probs, loss) = sigmoid_xent_forward(logits_of(self.name())?, y)?;
                let grad = want_grad
                    .then(|| softmax_xent_backward(&probs, y, elem_mean))
                    .transpose()?;
                (loss, grad.map(Grad::Logits))
            }
            (Loss::BinaryCrossentropy, _) => {
                let grad = want_grad
                    .then(|| bce_backward(pred, y, elem_mean))
                    .transpose()?;
                (bce_forward(pred, y)?, grad.map(Grad::Output))
            }
            (Loss::MeanSquaredError, _) => {
                let grad = want_grad
                    .then(|| mse_backward(pred, y, elem_mean))
                    .transpose()?;
                (mse_forward(pred, y)?, grad.map(Grad::Output))
            }
        })
    }
}
