//! Losses with Keras semantics: a per-sample value averaged over the batch, and the gradient
//! that starts the backward pass.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::ops::elementwise::{binary, BinaryOp};
use crate::ops::loss::{
    bce_backward, bce_forward, cce_backward, cce_forward, mse_backward, mse_forward,
    sigmoid_xent_forward,
};
use crate::ops::masked_reduce::masked_scale;
use crate::ops::reduce::sum;
use crate::ops::softmax::{softmax_xent_backward, softmax_xent_forward};
use crate::tensor::Tensor;

/// A training loss, as Keras's `loss=` strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// One-hot targets `[B, C]`; after a softmax output it is computed from the logits.
    CategoricalCrossentropy,
    /// Integer class targets `[B]` (or `[B, 1]`), converted to one-hot on the host.
    SparseCategoricalCrossentropy,
    /// Targets in `[0, 1]`; after a sigmoid output it is computed from the logits.
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

    /// Per-row losses (a row is a sample, or a step of a sequence output) and the gradient
    /// of the batch's loss, from the model's output `pred` (and `logits`, the last layer's
    /// pre-activation values, when the loss fuses with its activation). `y` is one-hot for
    /// the sparse loss (converted on the host).
    ///
    /// The batch's loss is the mean over rows; with an output `mask` (one value per row) it
    /// is the mean over unmasked rows, as Keras: the returned rows are then multiplied by the
    /// mask, the gradient is scaled by `mask / sum(mask)`, and that sum is returned too.
    pub(crate) fn forward_backward(
        self,
        pred: &Tensor,
        logits: Option<&Tensor>,
        last: Activation,
        y: &Tensor,
        want_grad: bool,
        mask: Option<&Tensor>,
    ) -> Result<(Tensor, Option<Grad>, Option<Tensor>)> {
        let cols = pred.dims().last().copied().unwrap_or(1).max(1);
        let rows = (pred.numel() / cols).max(1);
        // Without a mask the batch mean is folded into the kernels' scale; with one the mask
        // scales the gradient afterwards.
        let row_scale = if mask.is_some() {
            1.0
        } else {
            1.0 / rows as f32
        };
        let elem_scale = row_scale / cols as f32;
        let logits_of = |what: &str| {
            logits.ok_or_else(|| {
                Error::Config(format!(
                    "{what} needs the output layer's logits (run a training forward)"
                ))
            })
        };
        let (loss, grad) = match (self, last) {
            (
                Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy,
                Activation::Softmax,
            ) => {
                let (probs, loss) = softmax_xent_forward(logits_of(self.name())?, y)?;
                let grad = want_grad
                    .then(|| softmax_xent_backward(&probs, y, row_scale))
                    .transpose()?;
                (loss, grad.map(Grad::Logits))
            }
            (Loss::CategoricalCrossentropy | Loss::SparseCategoricalCrossentropy, _) => {
                let grad = want_grad
                    .then(|| cce_backward(pred, y, row_scale))
                    .transpose()?;
                (cce_forward(pred, y)?, grad.map(Grad::Output))
            }
            (Loss::BinaryCrossentropy, Activation::Sigmoid) if logits.is_some() => {
                let (probs, loss) = sigmoid_xent_forward(logits_of(self.name())?, y)?;
                let grad = want_grad
                    .then(|| softmax_xent_backward(&probs, y, elem_scale))
                    .transpose()?;
                (loss, grad.map(Grad::Logits))
            }
            (Loss::BinaryCrossentropy, _) => {
                let grad = want_grad
                    .then(|| bce_backward(pred, y, elem_scale))
                    .transpose()?;
                (bce_forward(pred, y)?, grad.map(Grad::Output))
            }
            (Loss::MeanSquaredError, _) => {
                let grad = want_grad
                    .then(|| mse_backward(pred, y, elem_scale))
                    .transpose()?;
                (mse_forward(pred, y)?, grad.map(Grad::Output))
            }
        };
        let Some(mask) = mask else {
            return Ok((loss, grad, None));
        };
        if mask.numel() != rows {
            return Err(Error::Config(format!(
                "an output mask of {} steps for {rows} output rows",
                mask.numel()
            )));
        }
        let m = mask.reshape([rows])?;
        let total = sum(&m, 0)?;
        let loss = binary(&loss.reshape([rows])?, &m, BinaryOp::Mul)?;
        let grad = grad
            .map(|g| -> Result<Grad> {
                Ok(match g {
                    Grad::Logits(t) => Grad::Logits(masked_scale(&t, &m, &total)?),
                    Grad::Output(t) => Grad::Output(masked_scale(&t, &m, &total)?),
                })
            })
            .transpose()?;
        Ok((loss, grad, Some(total)))
    }
}
