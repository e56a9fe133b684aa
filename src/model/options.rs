//! `FitOptions`: Keras's `fit` keyword arguments as a builder.

use std::sync::{Arc, Mutex};

use ndarray::ArrayD;

use crate::callbacks::Callback;

/// Arrays for each input and each output.
pub(crate) type XsYs = (Vec<ArrayD<f32>>, Vec<ArrayD<f32>>);

/// How `fit` runs: batch size, epochs, shuffling, validation, callbacks and verbosity —
/// the keyword arguments of Keras's `model.fit(x, y, batch_size=32, epochs=10, ...)` as a
/// builder. Passed by value to [`Model::fit`](crate::Model::fit),
/// [`Model::fit_dataset`](crate::Model::fit_dataset),
/// [`Model::fit_generator`](crate::Model::fit_generator) and the `trainer` forms of each.
///
/// Every field is honoured by every source of data or refused with
/// [`Error::Config`](crate::Error::Config) naming it: a dataset and a generator make their
/// own batches, so `batch_size`, `shuffle`, `seed` and `validation_split` set for them are
/// errors (as in Keras); `steps_per_epoch` caps the batches of an epoch for any source and
/// is what ends an epoch of an endless generator.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// let x = ndarray::arr2(&[[0.0f32], [1.0], [2.0], [3.0], [4.0]]);
/// let y = ndarray::arr1(&[0.0f32, 2.0, 4.0, 6.0, 8.0]);
/// let opts = FitOptions::new().batch_size(2).epochs(3).validation_split(0.2).verbose(0);
/// let history = model.fit(&x, &y, opts)?;
/// assert_eq!(history.get("val_loss").map(<[f32]>::len), Some(3)); // one per epoch
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FitOptions {
    pub(crate) batch_size: Option<usize>,
    pub(crate) epochs: usize,
    pub(crate) shuffle: Option<bool>,
    pub(crate) seed: Option<u64>,
    pub(crate) validation_split: f32,
    pub(crate) validation_data: Option<XsYs>,
    pub(crate) verbose: u8,
    pub(crate) validation_dataset: Option<crate::data::SequenceDataset>,
    pub(crate) initial_epoch: usize,
    pub(crate) steps_per_epoch: Option<usize>,
    pub(crate) sample_weight: Option<ArrayD<f32>>,
    pub(crate) callbacks: Vec<Arc<Mutex<dyn Callback>>>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            batch_size: None,
            epochs: 1,
            shuffle: None,
            seed: None,
            validation_split: 0.0,
            validation_data: None,
            verbose: 1,
            validation_dataset: None,
            initial_epoch: 0,
            steps_per_epoch: None,
            sample_weight: None,
            callbacks: Vec::new(),
        }
    }
}

impl FitOptions {
    /// Keras's defaults: batch 32, 1 epoch, shuffled (seed 0), no validation, progress bar.
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples per training step (Keras's `batch_size=`; default 32). 0 makes `fit` return
    /// [`Error::Config`](crate::Error::Config); the last batch of an epoch may be smaller.
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = Some(n);
        self
    }

    /// The number of the last epoch (Keras's `epochs=`; default 1): training runs epochs
    /// `initial_epoch..epochs`.
    #[must_use]
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }

    /// Shuffle the training samples each epoch (default on; arrays only).
    #[must_use]
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = Some(on);
        self
    }

    /// The seed of the shuffling (default: [`set_random_seed`](crate::set_random_seed)'s, 0 unless
    /// set: runs repeat exactly; arrays only).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Hold out this fraction of the samples, taken from the end before shuffling, as Keras's
    /// `validation_split=`; their loss and metrics are logged as `val_loss`, `val_accuracy`...
    /// Training keeps the first `floor(n * (1 - fraction))` samples, as Keras (5 samples at
    /// 0.2: 4 train, 1 validates). It must be in `[0, 1)` (else `fit` returns [`Error::Config`](crate::Error::Config));
    /// `validation_data` takes precedence over it.
    #[must_use]
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validation data `x: [M, ...input]`, `y` (shaped as for `fit`) evaluated after each epoch
    /// (Keras's `validation_data=(x_val, y_val)`), logged as `val_loss` and `val_` metrics.
    #[must_use]
    pub fn validation_data(mut self, x: ArrayD<f32>, y: ArrayD<f32>) -> Self {
        self.validation_data = Some((vec![x], vec![y]));
        self
    }

    /// Validation data for a model with several inputs or outputs: one array per input and
    /// one per output, in the model's order.
    #[must_use]
    pub fn validation_data_many(mut self, xs: Vec<ArrayD<f32>>, ys: Vec<ArrayD<f32>>) -> Self {
        self.validation_data = Some((xs, ys));
        self
    }

    /// At most `n` batches per epoch (Keras's `steps_per_epoch=`); what ends the epochs of a
    /// generator that never stops. 0 is an [`Error::Config`](crate::Error::Config).
    #[must_use]
    pub fn steps_per_epoch(mut self, n: usize) -> Self {
        self.steps_per_epoch = Some(n);
        self
    }

    /// Weighs each training sample's loss and metrics (Keras's `fit(..., sample_weight=w)`):
    /// `w: [N]`, one finite weight per sample of x (the held-out part of a
    /// `validation_split` keeps its weights for the validation). A batch's loss is
    /// `Σ w·loss / batch size`, as Keras; metrics are not weighted (Keras weighs only its
    /// `weighted_metrics`). Arrays only (a
    /// generator gives weights with each batch, as `(x, y, w)`); outputs with a time axis or a
    /// mask do not take weights yet ([`Error::Config`](crate::Error::Config)).
    #[must_use]
    pub fn sample_weight(mut self, w: ArrayD<f32>) -> Self {
        self.sample_weight = Some(w);
        self
    }

    /// A dataset evaluated after each epoch (Keras's `validation_data=` given a dataset),
    /// whatever the training data is.
    #[must_use]
    pub fn validation_dataset(mut self, ds: crate::data::SequenceDataset) -> Self {
        self.validation_dataset = Some(ds);
        self
    }

    /// The epoch to start from (the epochs a loaded checkpoint had done); `epochs` stays the
    /// last epoch's number, as in Keras.
    #[must_use]
    pub fn initial_epoch(mut self, epoch: usize) -> Self {
        self.initial_epoch = epoch;
        self
    }

    /// Adds a callback (`TerminateOnNaN`, `EarlyStopping`, `ModelCheckpoint`, your own).
    #[must_use]
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Arc::new(Mutex::new(callback)));
        self
    }

    /// Progress output on stdout, as Keras's `verbose=`: 0 silent, 1 a progress bar (the
    /// default), 2 one line per epoch.
    #[must_use]
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }
}
