//! `FitOptions`: Keras's `fit` keyword arguments as a builder.

use std::sync::{Arc, Mutex};

use ndarray::ArrayD;

use crate::callbacks::Callback;

/// How `fit` runs: batch size, epochs, shuffling, validation, callbacks and verbosity —
/// the keyword arguments of Keras's `model.fit(x, y, batch_size=32, epochs=10, ...)` as a
/// builder. Passed by value to [`Sequential::fit`](crate::Sequential::fit),
/// [`Sequential::fit_dataset`](crate::Sequential::fit_dataset) and
/// [`Sequential::trainer`](crate::Sequential::trainer).
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
    pub(crate) batch_size: usize,
    pub(crate) epochs: usize,
    pub(crate) shuffle: bool,
    pub(crate) seed: u64,
    pub(crate) validation_split: f32,
    pub(crate) validation_data: Option<(ArrayD<f32>, ArrayD<f32>)>,
    pub(crate) verbose: u8,
    pub(crate) validation_dataset: Option<crate::data::SequenceDataset>,
    pub(crate) initial_epoch: usize,
    pub(crate) callbacks: Vec<Arc<Mutex<dyn Callback>>>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            batch_size: 32,
            epochs: 1,
            shuffle: true,
            seed: 0,
            validation_split: 0.0,
            validation_data: None,
            verbose: 1,
            validation_dataset: None,
            initial_epoch: 0,
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
        self.batch_size = n;
        self
    }

    /// The number of the last epoch (Keras's `epochs=`; default 1): training runs epochs
    /// `initial_epoch..epochs`.
    #[must_use]
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }

    /// Shuffle the training samples each epoch (default on).
    #[must_use]
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    /// The seed of the shuffling (default 0: runs repeat exactly).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
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
        self.validation_data = Some((x, y));
        self
    }

    /// A dataset evaluated after each epoch of `fit_dataset` (its `validation_data`); `fit`
    /// ignores it.
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
