//! Metrics: `accuracy`, resolved from the loss as Keras does.

use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::ops::loss::{accuracy_binary, accuracy_categorical};
use crate::tensor::Tensor;

/// A metric reported by `fit` and `evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Categorical (argmax) accuracy after a (sparse) categorical crossentropy loss, binary
    /// accuracy (threshold 0.5) after binary crossentropy.
    Accuracy,
}

impl Metric {
    /// Keras's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
        }
    }

    pub(crate) fn check(self, loss: Loss) -> Result<()> {
        match (self, loss) {
            (Metric::Accuracy, Loss::MeanSquaredError) => Err(Error::Config(
                "accuracy is resolved from a classification loss; mean_squared_error has none"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// Per-sample values `[B]` (1 or 0 for a sample, or a fraction for binary rows).
    pub(crate) fn per_sample(self, loss: Loss, pred: &Tensor, y: &Tensor) -> Result<Tensor> {
        match loss {
            Loss::BinaryCrossentropy => accuracy_binary(pred, y),
            _ => accuracy_categorical(pred, y),
        }
    }
}
