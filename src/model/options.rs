//! `FitOptions`: Keras's `fit` keyword arguments as a builder.

use std::sync::{Arc, Mutex};

use ndarray::ArrayD;

use crate::callbacks::Callback;

/// How `fit` runs: batch size, epochs, shuffling, validation and verbosity.
///
/// ```
/// use wgfit::FitOptions;
/// let opts = FitOptions::new().batch_size(32).epochs(10).validation_split(0.1).verbose(2);
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
    /// Keras's defaults: batch 32, 1 epoch, shuffled (seed 0), progress bar.
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

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

    /// Hold out this fraction of the samples, taken from the end before shuffling, as Keras.
    #[must_use]
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = fraction;
        self
    }

    /// Validation data evaluated after each epoch.
    #[must_use]
    pub fn validation_data(mut self, x: ArrayD<f32>, y: ArrayD<f32>) -> Self {
        self.validation_data = Some((x, y));
        self
    }

    /// A dataset evaluated after each epoch of `fit_dataset`.
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

    /// 0 silent, 1 a progress bar, 2 one line per epoch.
    #[must_use]
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }
}
