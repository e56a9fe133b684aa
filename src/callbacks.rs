//! Callbacks that keep a training run safe, as Keras's: `TerminateOnNaN`, `EarlyStopping`,
//! `ModelCheckpoint`. Pass them with `FitOptions::callback(..)`.

use std::path::PathBuf;

use ndarray::ArrayD;

use crate::error::{Error, Result};
use crate::model::Sequential;

/// What a callback tells `fit` to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Continue,
    /// Stop training, saying why (recorded in `History::stopped`).
    Stop(String),
}

/// Something `fit` calls during training.
pub trait Callback: Send + std::fmt::Debug {
    /// True when the callback needs each batch's loss: `fit` then reads it back after every
    /// batch, one sync per step, which a run without such callbacks avoids.
    fn wants_batch_loss(&self) -> bool {
        false
    }

    /// After each training batch, with its mean loss.
    fn on_batch_end(&mut self, _epoch: usize, _batch: usize, _loss: f32) -> Result<Control> {
        Ok(Control::Continue)
    }

    /// After each epoch, with its logs (`loss`, metrics, `val_` ones).
    fn on_epoch_end(
        &mut self,
        _model: &mut Sequential,
        _epoch: usize,
        _logs: &[(String, f32)],
    ) -> Result<Control> {
        Ok(Control::Continue)
    }
}

/// Stops training at the first batch whose loss is NaN or infinite, naming epoch and batch.
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
/// best epoch's weights (Keras's defaults: `val_loss`, patience 0, min_delta 0, no restore).
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

    #[must_use]
    pub fn patience(mut self, epochs: usize) -> Self {
        self.patience = epochs;
        self
    }

    #[must_use]
    pub fn min_delta(mut self, delta: f32) -> Self {
        self.min_delta = delta;
        self
    }

    #[must_use]
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best_weights = on;
        self
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(
        &mut self,
        model: &mut Sequential,
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
/// `monitor` improves. `{epoch}` in the path becomes the epoch number (from 1).
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    path: PathBuf,
    monitor: String,
    save_best_only: bool,
    best: Option<f32>,
}

impl ModelCheckpoint {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ModelCheckpoint {
            path: path.into(),
            monitor: "val_loss".into(),
            save_best_only: false,
            best: None,
        }
    }

    #[must_use]
    pub fn monitor(mut self, name: impl Into<String>) -> Self {
        self.monitor = name.into();
        self
    }

    #[must_use]
    pub fn save_best_only(mut self, on: bool) -> Self {
        self.save_best_only = on;
        self
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(
        &mut self,
        model: &mut Sequential,
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
