//! How `fit` and `fit_dataset` call the callbacks: per-batch losses for the ones that ask,
//! and the end of an epoch (stop reasons, printed when verbose).

use std::sync::{Arc, Mutex};

use super::history::History;
use super::options::FitOptions;
use super::sequential::{Compiled, Sequential};
use super::step::Sums;
use crate::callbacks::{Callback, Control};
use crate::error::Result;

/// A callback's lock (a callback that panicked leaves its state usable).
pub(super) fn lock<'a>(
    c: &'a std::sync::Mutex<dyn Callback + 'static>,
) -> std::sync::MutexGuard<'a, dyn Callback + 'static> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// The per-batch losses `fit` and `fit_dataset` pass to the callbacks that ask for them
/// ([`Callback::wants_batch_loss`]): one readback per step, and only when one asks.
pub(super) struct BatchLosses<'a> {
    callbacks: &'a [Arc<Mutex<dyn Callback>>],
    /// The epoch's loss sum read after the previous batch.
    before: f32,
}

impl<'a> BatchLosses<'a> {
    /// For one epoch; `None` when no callback asks for batch losses.
    pub(super) fn new(callbacks: &'a [Arc<Mutex<dyn Callback>>]) -> Option<Self> {
        callbacks
            .iter()
            .any(|c| lock(c).wants_batch_loss())
            .then_some(BatchLosses {
                callbacks,
                before: 0.0,
            })
    }

    /// Calls every callback's `on_batch_end` with the mean loss of batch `b` (`len` samples,
    /// the last step added to the epoch's `sums`); returns the first stop reason.
    pub(super) fn batch_end(
        &mut self,
        compiled: &Compiled,
        sums: &Sums,
        epoch: usize,
        b: usize,
        len: usize,
    ) -> Result<Option<String>> {
        let total = sums.read(compiled, 1)?.loss;
        let loss = (total - self.before) / len as f32;
        self.before = total;
        let mut stopped = None;
        for c in self.callbacks {
            if let Control::Stop(why) = lock(c).on_batch_end(epoch, b, loss)? {
                stopped.get_or_insert(why);
            }
        }
        Ok(stopped)
    }
}

/// After epoch `epoch` of `fit` or `fit_dataset` (its `logs` already in `history`): calls
/// every callback's `on_epoch_end`, keeps the first stop reason (a batch's comes first) and
/// prints it when verbose; true when training must stop.
pub(super) fn epoch_end(
    model: &mut Sequential,
    opts: &FitOptions,
    epoch: usize,
    logs: &[(String, f32)],
    history: &mut History,
) -> Result<bool> {
    for c in &opts.callbacks {
        if let Control::Stop(why) = lock(c).on_epoch_end(model, epoch, logs)? {
            history.stopped.get_or_insert(why);
        }
    }
    if let Some(why) = history.stopped.as_ref().filter(|_| opts.verbose > 0) {
        println!("{why}");
    }
    Ok(history.stopped.is_some())
}
