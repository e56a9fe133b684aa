//! Callbacks that keep a training run safe, as Keras's: `TerminateOnNaN`, `EarlyStopping`,
//! `ModelCheckpoint`. Pass them with `FitOptions::callback(..)`.

use std::path::PathBuf;

use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::model::Model;

/// What a callback tells `fit` to do next (Keras's `model.stop_training = True`, as a value).
///
/// ```
/// use wgfit::callbacks::{Callback, Control, TerminateOnNaN};
/// let mut guard = TerminateOnNaN;
/// assert_eq!(guard.on_batch_end(0, 0, 0.5)?, Control::Continue);
/// assert!(matches!(guard.on_batch_end(0, 1, f32::NAN)?, Control::Stop(_)));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop training, saying why (recorded in `History::stopped`).
    Stop(String),
}

/// Something `fit` calls during training, as a subclass of Keras's `keras.callbacks.Callback`.
///
/// Every method has a default that does nothing, so a callback implements only what it
/// needs. Pass one with [`FitOptions::callback`](crate::FitOptions::callback). `fit` and
/// `fit_dataset` call both hooks; a [`Trainer`](crate::Trainer) calls neither. An `Err` from
/// a hook ends `fit` with that error.
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::callbacks::{Callback, Control};
/// #[derive(Debug)]
/// struct StopAt(usize); // stops after this many epochs
/// impl Callback for StopAt {
///     fn on_epoch_end(&mut self, _: &mut Model, epoch: usize, _: &[(String, f32)]) -> Result<Control> {
///         Ok(if epoch + 1 >= self.0 { Control::Stop("enough".into()) } else { Control::Continue })
///     }
/// }
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
/// let history = model.fit(&x, &y, FitOptions::new().epochs(10).verbose(0).callback(StopAt(3)))?;
/// assert_eq!(history.epochs(), 3);
/// assert_eq!(history.stopped.as_deref(), Some("enough"));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub trait Callback: Send + std::fmt::Debug {
    /// True when the callback needs each batch's loss: `fit` then copies the loss sums
    /// back after every batch, in the batch's own submit, and delivers each batch's loss one
    /// step late (after the next batch is queued, so the GPU never idles waiting for it).
    fn wants_batch_loss(&self) -> bool {
        false
    }

    /// Checks the callback's settings against what the run will log (`loss`, `accuracy`,
    /// `val_loss`... as [`History`](crate::History) will name them), before the first step:
    /// a monitor that will never be logged is an [`Error::Config`]. Fine by default.
    fn check(&self, _logged: &[String]) -> Result<()> {
        Ok(())
    }

    /// After each training batch (`epoch` and `batch` from 0), with its mean loss; called
    /// only when [`Callback::wants_batch_loss`] is true. Called a step late: batch `b`'s
    /// loss arrives once batch `b + 1` is on its way (the epoch's last batches before its
    /// end), so a [`Control::Stop`] here takes effect after one more batch has trained.
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _loss: f32) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// After each epoch (`epoch` from 0), with its logs (`loss`, metrics, `val_` ones, in
    /// that order) and the model, whose weights the callback may read, save or replace.
    fn on_epoch_end(
        &mut self,
        _model: &mut Model,
        _epoch: usize,
        _logs: &[(String, f32)],
    ) -> Result<Control> {
        Ok(Control::Continue)
    }
}

/// Stops training at the first batch whose loss is NaN or infinite, naming epoch and batch
/// in `History::stopped` (Keras's `TerminateOnNaN`).
///
/// It reads every batch's loss back, one sync per step. With `fit_dataset` it is not called
/// per batch (only `on_epoch_end` is), so there it does nothing.
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::TerminateOnNaN;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// // A learning rate this large makes the loss overflow within a few steps.
/// model.compile(&Device::cpu(), Optimizer::sgd().learning_rate(1e30), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
/// let opts = FitOptions::new().batch_size(1).epochs(50).verbose(0).callback(TerminateOnNaN);
/// let history = model.fit(&x, &y, opts)?;
/// assert!(history.stopped.as_deref().unwrap().starts_with("TerminateOnNaN"));
/// assert!(history.epochs() < 50);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TerminateOnNaN;

impl Callback for TerminateOnNaN {
    fn wants_batch_loss(&self) -> bool {
        true
    }

    fn on_batch_end(&mut self, epoch: usize, batch: usize, loss: f32) -> Result<Control> {
        Ok(if loss.is_finite() {
            Control::Continue
        } else {
            Control::Stop(format!(
                "TerminateOnNaN: the loss became {loss} at epoch {epoch}, batch {batch}"
            ))
        })
    }
}

/// An [`Error::Config`] unless `monitor` is among the names the run will log.
fn monitored(who: &str, monitor: &str, logged: &[String]) -> Result<()> {
    if logged.iter().any(|l| l == monitor) {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{who} monitors '{monitor}', which this run never logs (it logs {})",
        logged.join(", ")
    )))
}

fn logged(logs: &[(String, f32)], monitor: &str) -> Result<f32> {
    logs.iter()
        .find(|(n, _)| n == monitor)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = logs.iter().map(|(n, _)| n.as_str()).collect();
            Error::Config(format!(
                "the monitored value {monitor:?} is not logged; logged are {names:?}"
            ))
        })
}

/// Higher is better for accuracies, lower for everything else (Keras's "auto" mode).
fn improved(monitor: &str, value: f32, best: Option<f32>, min_delta: f32) -> bool {
    match best {
        None => value.is_finite(),
        Some(b) if monitor.contains("acc") => value - min_delta > b,
        Some(b) => value + min_delta < b,
    }
}

/// Stops when `monitor` has not improved for `patience` epochs, optionally restoring the
/// best epoch's weights (Keras's `EarlyStopping`; defaults patience 0, min_delta 0, no
/// restore).
///
/// A monitored name containing `acc` must rise to improve; anything else must fall (Keras's
/// `mode='auto'`). It never stops after the first epoch. A `monitor` that is not logged
/// (`val_loss` without validation data) ends `fit` with [`Error::Config`] listing the
/// logged names.
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::EarlyStopping;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// // A learning rate of 0: the loss never improves, so training stops at the second epoch.
/// model.compile(&Device::cpu(), Optimizer::sgd().learning_rate(0.0), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
/// let stop = EarlyStopping::new("loss").patience(0);
/// let history = model.fit(&x, &y, FitOptions::new().epochs(10).verbose(0).callback(stop))?;
/// assert_eq!(history.epochs(), 2);
/// assert!(history.stopped.is_some());
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: String,
    patience: usize,
    min_delta: f32,
    restore_best_weights: bool,
    best: Option<f32>,
    wait: usize,
    best_weights: Option<Vec<ArrayD<f32>>>,
}

impl EarlyStopping {
    /// Watches the logged value `monitor` (`"loss"`, `"val_loss"`, `"val_accuracy"`...);
    /// Keras's default is `"val_loss"`.
    pub fn new(monitor: impl Into<String>) -> Self {
        EarlyStopping {
            monitor: monitor.into(),
            patience: 0,
            min_delta: 0.0,
            restore_best_weights: false,
            best: None,
            wait: 0,
            best_weights: None,
        }
    }

    /// Epochs without improvement after which training stops (default 0).
    #[must_use]
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    /// The smallest change that counts as an improvement (default 0).
    #[must_use]
    pub fn min_delta(mut self, delta: f32) -> Self {
        self.min_delta = delta;
        self
    }

    /// When stopping, put back the weights of the best epoch seen (default off: the last
    /// epoch's weights stay). Costs one read-back of the weights per improvement.
    #[must_use]
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best_weights = on;
        self
    }
}

impl Callback for EarlyStopping {
    fn check(&self, logged: &[String]) -> Result<()> {
        monitored("EarlyStopping", &self.monitor, logged)
    }

    fn on_epoch_end(
        &mut self,
        model: &mut Model,
        epoch: usize,
        logs: &[(String, f32)],
    ) -> Result<Control> {
        // Keras 3's order: count the epoch, reset on an improvement, stop once the count
        // reaches the patience (never at the first epoch).
        let value = logged(logs, &self.monitor)?;
        self.wait += 1;
        if improved(&self.monitor, value, self.best, self.min_delta) {
            self.best = Some(value);
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights =
                    Some(model.get_weights()?.into_iter().map(|(_, w)| w).collect());
            }
            return Ok(Control::Continue);
        }
        if self.wait < self.patience || epoch == 0 {
            return Ok(Control::Continue);
        }
        if let Some(best) = self
            .best_weights
            .as_ref()
            .filter(|_| self.restore_best_weights)
        {
            model.set_weights(best)?;
        }
        Ok(Control::Stop(format!(
            "EarlyStopping: {} did not improve for {} epochs (epoch {epoch}; best {:?})",
            self.monitor, self.wait, self.best
        )))
    }
}

/// Saves a checkpoint (weights, optimizer state, epochs done) after every epoch, or only when
/// `monitor` improves (Keras's `ModelCheckpoint`). `{epoch}` in the path becomes the epoch
/// number (from 1). Load one with [`Model::load_checkpoint`](crate::Model::load_checkpoint) and resume with
/// [`FitOptions::initial_epoch`](crate::FitOptions::initial_epoch).
///
/// The model must have its weights when the callback runs (it does during `fit`). With
/// `save_best_only` a `monitor` that is not logged ends `fit` with [`Error::Config`].
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::ModelCheckpoint;
/// let dir = std::env::temp_dir().join(format!("wgfit-doc-mc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
/// let save = ModelCheckpoint::new(dir.join("ckpt-{epoch}.safetensors"));
/// model.fit(&x, &y, FitOptions::new().epochs(2).verbose(0).callback(save))?;
/// assert!(dir.join("ckpt-2.safetensors").exists());
/// assert_eq!(model.load_checkpoint(dir.join("ckpt-1.safetensors"))?, 1);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    path: PathBuf,
    monitor: String,
    save_best_only: bool,
    best: Option<f32>,
}

impl ModelCheckpoint {
    /// Saves to `path` (Keras's `filepath`), where `{epoch}` is replaced by the epoch number;
    /// monitors `val_loss` for `save_best_only`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor: "val_loss".into(),
            save_best_only: false,
            best: None,
        }
    }

    /// The logged value that decides what is best (default `"val_loss"`; a name containing
    /// `acc` must rise, anything else fall).
    #[must_use]
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = name.into();
        self
    }

    /// Save only when `monitor` improves on the best value so far (default off: every epoch).
    #[must_use]
    pub fn save_best_only(mut self, on: bool) -> Self {
        self.save_best_only = on;
        self
    }
}

impl Callback for ModelCheckpoint {
    fn check(&self, logged: &[String]) -> Result<()> {
        if self.save_best_only {
            monitored("ModelCheckpoint", &self.monitor, logged)?;
        }
        Ok(())
    }

    fn on_epoch_end(
        &mut self,
        model: &mut Model,
        epoch: usize,
        logs: &[(String, f32)],
    ) -> Result<Control> {
        if self.save_best_only {
            let value = logged(logs, &self.monitor)?;
            if !improved(&self.monitor, value, self.best, 0.0) {
                return Ok(Control::Continue);
            }
            self.best = Some(value);
        }
        let path = self
            .path
            .to_string_lossy()
            .replace("{epoch}", &(epoch + 1).to_string());
        model.save_checkpoint(path, epoch + 1)?;
        Ok(Control::Continue)
    }
}
