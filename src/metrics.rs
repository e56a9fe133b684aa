//! Metrics: `accuracy`, resolved from the loss as Keras does.

use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::ops::loss::{accuracy_binary, accuracy_categorical};
use crate::tensor::Tensor;

/// A metric reported by `fit` and `evaluate`, as Keras's `metrics=['accuracy']`; passed to
/// [`Model::compile`](crate::Model::compile), logged under [`Metric::name`] (and
/// `val_` + name for validation data).
///
/// `compile` returns [`Error::Config`] for a metric the loss cannot resolve (accuracy after
/// mean squared error).
///
/// ```
/// use wgfit::prelude::*;
/// let device = Device::cpu();
/// let mut model = Sequential::new().add(Dense::new(1).activation(Activation::Sigmoid).input_shape([2]));
/// model.compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[Metric::Accuracy])?;
/// let x = ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0]]);
/// let acc = model.evaluate(&x, &ndarray::arr1(&[0.0f32, 1.0]))?.get("accuracy").unwrap();
/// assert!((0.0..=1.0).contains(&acc));
/// // Accuracy needs a classification loss.
/// let err = model.compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[Metric::Accuracy]);
/// assert!(matches!(err, Err(Error::Config(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Categorical (argmax) accuracy after a (sparse) categorical crossentropy loss, binary
    /// accuracy (threshold 0.5) after binary crossentropy.
    Accuracy,
}

impl Metric {
    /// Keras's name for it, the key of its value in `History` and `Evaluation`.
    ///
    /// ```
    /// assert_eq!(wgfit::Metric::Accuracy.name(), "accuracy");
    /// ```
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
