//! The loop's non-waiting pieces: epochs ended with their logs still on the way (`Ending`),
//! collected into the history in order once they arrive, and the running logs read after
//! each batch (`LiveLogs`), for an app that plots training between frames.

use super::{Current, Run};
use crate::device::Device;
use crate::error::Result;
use crate::model::epoch::{Epoch, Mode};
use crate::model::functional::{Model, not_compiled};
use crate::model::history::Evaluation;
use crate::model::sums::Snapshot;
use crate::progress::Progress;

/// An epoch ended without waiting: snapshots of its sums (and its validation's).
pub(crate) struct Ending {
    batches: usize,
    progress: Progress,
    train: Option<Snapshot>,
    val: Option<Snapshot>,
}

/// The running logs of the epoch under way, as they stood after some batch: what
/// [`Trainer::latest`](crate::Trainer::latest) gives once [`set_live`](crate::Trainer::set_live)
/// is on, e.g. for a live plot.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::Array2::<f32>::ones((6, 1)), ndarray::Array1::<f32>::ones(6));
/// let mut trainer = model.trainer(&x, &y, FitOptions::new().batch_size(2).epochs(1))?;
/// trainer.set_live(true);
/// trainer.try_step(2)?;
/// let live = trainer.latest().expect("read at once on the CPU");
/// assert_eq!((live.epoch, live.batch), (0, 2));
/// assert!(live.logs.loss.is_finite());
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LiveLogs {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Batches of that epoch done when the logs were taken.
    pub batch: usize,
    /// The epoch's loss and metrics over those batches (as a progress bar shows them).
    pub logs: Evaluation,
}

impl Run<'_> {
    /// Ends the epoch under way without waiting: its sums' snapshot (and the validation's,
    /// whose batches run now) ride with the next submit and are collected later.
    pub(super) fn end_epoch_later(&mut self, model: &mut Model) -> Result<()> {
        let Some(Current {
            epoch, progress, ..
        }) = self.current.take()
        else {
            return Ok(());
        };
        let train = epoch.snapshot()?;
        let val = match self.validation.as_mut() {
            Some(val) => {
                let mut run = Epoch::new(model, 0, Mode::Evaluate, None)?;
                while run.next(model, &mut **val)?.is_some() {}
                run.snapshot()?
            }
            None => None,
        };
        self.endings.push_back(Ending {
            batches: epoch.batches,
            progress,
            train,
            val,
        });
        self.next_epoch = epoch.epoch + 1;
        if self.next_epoch >= self.opts.epochs {
            self.finished = true;
        }
        Ok(())
    }

    /// Moves the ended epochs whose logs have arrived into the history, oldest first; with
    /// `wait`, waits for all of them. Without, it never waits: copies still in the pending
    /// encoder (no step came after the epoch's end) are submitted only if that would not
    /// wait either.
    pub(crate) fn collect(&mut self, model: &mut Model, wait: bool) -> Result<()> {
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        let heads = &compiled.heads;
        while let Some(front) = self.endings.front_mut() {
            let unsent = front.train.iter().chain(&front.val).any(|s| !s.submitted());
            if !wait && unsent {
                let room = match &compiled.device {
                    Device::Gpu(ctx) => ctx.submits_running()? < self.queue_depth,
                    Device::Cpu => true,
                };
                if !room {
                    return Ok(());
                }
            }
            let mut arrived = true;
            for s in front.train.iter_mut().chain(front.val.iter_mut()) {
                arrived &= wait || s.poll(heads)?.is_some();
            }
            if !arrived {
                return Ok(());
            }
            let Some(mut ending) = self.endings.pop_front() else {
                break;
            };
            // Arrived (or, with `wait`, waited for here).
            let mut logs = match ending.train.as_mut() {
                Some(s) => s.wait_mut(heads)?.evaluation.logs(""),
                None => Vec::new(),
            };
            if let Some(s) = ending.val.as_mut() {
                logs.extend(s.wait_mut(heads)?.evaluation.logs("val_"));
            }
            ending.progress.finish(ending.batches, &logs);
            self.history.push(&logs);
        }
        Ok(())
    }

    /// Takes the running logs if they have arrived (never waits).
    pub(crate) fn poll_live(&mut self, model: &Model) -> Result<()> {
        let Some(current) = self.current.as_mut() else {
            return Ok(());
        };
        let Some((batch, snapshot)) = current.live_read.as_mut() else {
            return Ok(());
        };
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        if let Some(r) = snapshot.poll(&compiled.heads)? {
            self.latest = Some(LiveLogs {
                epoch: current.epoch.epoch,
                batch: *batch,
                logs: r.evaluation,
            });
            current.live_read = None;
        }
        Ok(())
    }
}
