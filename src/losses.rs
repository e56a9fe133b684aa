//! Losses with Keras semantics: a per-sample value averaged over the batch, and the gradient
//! that starts the backward pass.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::ops::elementwise::{BinaryOp, binary};
use crate::ops::loss::{
    bce_backward, bce_forward, cce_backward, cce_forward, mse_backward, mse_forward,
    sigmoid_xent_forward,
};
use crate::ops::masked_reduce::masked_scale;
use crate::ops::reduce::sum;
use crate::ops::softmax::{softmax_xent_backward, softmax_xent_forward};
use crate::tensor::Tensor;

/// A training loss, as Keras's `loss=` strings; passed to
/// [`Model::compile`](crate::Model::compile).
///
/// The batch's loss is the mean of a per-sample loss (per step, for sequence outputs; masked
/// steps do not count). The targets `y` given to `fit` and `evaluate` are checked against
/// the loss and the model's output: a mismatch is an [`Error::Shape`], and a class id that
/// does not fit the output an [`Error::Label`].
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
/// model.compile(&Device::cpu(), Optimizer::sgd().learning_rate(0.1), Loss::MeanSquaredError, &[])?;
/// let x = ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]);
/// let y = ndarray::arr1(&[1.0f32, -1.0, 0.0, 0.5]);
/// let history = model.fit(&x, &y, FitOptions::new().epochs(20).verbose(0))?;
/// assert!(history.loss()[19] < history.loss()[0]);
/// assert_eq!(Loss::MeanSquaredError.name(), "mean_squared_error");
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Keras's `'categorical_crossentropy'`: one-hot targets `y: [N, C]` (see
    /// [`to_categorical`](crate::data::to_categorical)) for a `[N, C]` output; after a softmax
    /// output it is computed from the logits.
    CategoricalCrossentropy,
    /// Keras's `'sparse_categorical_crossentropy'`: integer class ids `y: [N]` (or `[N, 1]`;
    /// `[N, T]` for a `[N, T, C]` sequence output), converted to one-hot on the host. An id
    /// that is negative, fractional or `>= C` is an [`Error::Label`] naming the sample.
    SparseCategoricalCrossentropy,
    /// Keras's `'binary_crossentropy'`: targets in `[0, 1]` shaped like the output (`[N]` is
    /// accepted for a `[N, 1]` output); after a sigmoid output it is computed from the logits.
    BinaryCrossentropy,
    /// Keras's `'mean_squared_error'`: `mean((pred - y)²)` over the last axis; targets shaped
    /// like the output (`[N]` is accepted for a `[N, 1]` output).
    MeanSquaredError,
}

/// Where the loss gradient enters the model: at the output, or (fused) at the logits.
pub(crate) enum Grad {
    Output(Tensor),
    Logits(Tensor),
}

impl Loss {
    /// Keras's name for it (`"binary_crossentropy"`, ...), as in the `loss=` string.
    ///
    /// ```
    /// assert_eq!(wgfit::Loss::SparseCategoricalCrossentropy.name(), "sparse_categorical_crossentropy");
    /// ```
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
