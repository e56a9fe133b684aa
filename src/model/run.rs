//! The one training loop. `Epoch` (epoch.rs) draws an epoch's batches from a source and
//! steps the model on each (training, evaluating or predicting); `Run` is `fit` as a step machine:
//! epochs of batches, validation, callbacks, progress and history, advanced by its caller a
//! few batches at a time (`fit` runs it to the end; `Trainer` between an app's frames).
//!
//! The loop waits for the GPU at one point per epoch: its end, which reads the epoch's sums
//! (with validation, the validation's, the training sums having arrived meanwhile). A
//! progress redraw and a callback's batch losses read snapshots of the sums taken in a
//! step's own submit and delivered a step late: after step N is submitted, the loop waits
//! for step N - 1 alone (if at all), so the GPU always has a step queued. `flush` keeps the
//! host at most two submits ahead. Everything else records work and returns.
//!
//! Advanced without waiting (`Trainer::try_step`, for a UI thread), the loop submits a batch
//! only while the GPU has room for it, and an epoch's end takes snapshots of its sums and
//! moves on; its logs join the history when they arrive (`ends.rs`).

mod ends;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::epoch::{Epoch, Mode};
use super::functional::{Model, not_compiled};
use super::history::{Evaluation, History};
use super::options::FitOptions;
use super::sources::Source;
use super::sums::{Readout, Snapshot};
use crate::callbacks::{Callback, Control};
use crate::device::Device;
use crate::error::Result;
use crate::progress::Progress;
use ends::Ending;
pub use ends::LiveLogs;

/// A callback's lock (a callback that panicked leaves its state usable).
fn lock<'a>(
    c: &'a Mutex<dyn Callback + 'static>,
) -> std::sync::MutexGuard<'a, dyn Callback + 'static> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// The epoch under way in a `Run`.
struct Current {
    epoch: Epoch,
    /// Batches in this epoch, when known (asked of the source once per epoch).
    steps: Option<usize>,
    progress: Progress,
    /// When a callback wants batch losses: the epoch's loss sum before the oldest batch
    /// whose snapshot has not been delivered yet.
    loss_before: Option<f32>,
    /// Snapshots taken after each batch for the batch-end callbacks: (batch, its samples,
    /// the snapshot), oldest first.
    batch_reads: VecDeque<(usize, usize, Snapshot)>,
    /// A snapshot on its way to the progress line: (batches done when it was taken, it).
    progress_read: Option<(usize, Snapshot)>,
    /// A snapshot on its way to [`Run::latest`]: (batches done when it was taken, it).
    live_read: Option<(usize, Snapshot)>,
}

/// `fit` as a step machine over a training source and an optional validation source.
pub(crate) struct Run<'s> {
    train: Box<dyn Source + 's>,
    validation: Option<Box<dyn Source + 's>>,
    opts: FitOptions,
    current: Option<Current>,
    next_epoch: usize,
    pub(crate) history: History,
    finished: bool,
    /// Set for the length of an `advance` that must not wait for the GPU.
    non_blocking: bool,
    /// Epochs ended without waiting, their logs on the way, oldest first.
    endings: VecDeque<Ending>,
    /// Whether to read the running logs after every batch (without waiting).
    pub(crate) live: bool,
    /// The most submits an advance without waiting leaves running on the GPU (1 or 2).
    pub(crate) queue_depth: usize,
    /// The newest running logs that arrived.
    pub(crate) latest: Option<LiveLogs>,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) epoch: usize,
    pub(crate) batch: usize,
    pub(crate) steps: Option<usize>,
    pub(crate) done: bool,
}

impl<'s> Run<'s> {
    /// A run; the callbacks' settings are checked against what it will log.
    pub(crate) fn new(
        model: &Model,
        train: Box<dyn Source + 's>,
        validation: Option<Box<dyn Source + 's>>,
        opts: FitOptions,
    ) -> Result<Run<'s>> {
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        let outputs = compiled.heads.len();
        let mut logged = vec!["loss".to_string()];
        for h in &compiled.heads {
            if outputs > 1 {
                logged.push(h.log_name("loss", outputs));
            }
            for m in &h.metrics {
                logged.push(h.log_name(m.name(), outputs));
            }
        }
        if validation.is_some() {
            let val: Vec<String> = logged.iter().map(|l| format!("val_{l}")).collect();
            logged.extend(val);
        }
        for c in &opts.callbacks {
            lock(c).check(&logged)?;
        }
        let next_epoch = opts.initial_epoch;
        Ok(Run {
            train,
            validation,
            finished: next_epoch >= opts.epochs,
            opts,
            current: None,
            next_epoch,
            history: History::default(),
            non_blocking: false,
            endings: VecDeque::new(),
            live: false,
            queue_depth: crate::device::MAX_IN_FLIGHT,
            latest: None,
        })
    }

    fn callbacks(&self) -> Vec<Arc<Mutex<dyn Callback>>> {
        self.opts.callbacks.clone()
    }

    /// Runs up to `max_batches` training batches, ending epochs on the way. Without waiting
    /// (`advance_without_waiting`), it stops early rather than wait for the GPU: before a
    /// batch whose submit would wait; and an epoch's end leaves its logs on the way (unless
    /// callbacks need them now).
    pub(crate) fn advance(&mut self, model: &mut Model, max_batches: usize) -> Result<()> {
        let mut ran = 0;
        // Epochs ended without waiting go into the history first (a blocking advance waits
        // for them, so that `done` comes true).
        self.collect(model, !self.non_blocking)?;
        self.poll_live(model)?;
        while !self.finished && ran < max_batches {
            if self.non_blocking && gpu_full(model, self.queue_depth)? {
                break;
            }
            if self.current.is_none() {
                let epoch = self.next_epoch;
                let steps = self.steps(epoch);
                let wants = self
                    .opts
                    .callbacks
                    .iter()
                    .any(|c| lock(c).wants_batch_loss());
                self.current = Some(Current {
                    steps,
                    epoch: Epoch::new(model, epoch, Mode::Train, self.opts.steps_per_epoch)?,
                    progress: Progress::new(
                        self.opts.verbose,
                        epoch,
                        self.opts.epochs,
                        steps.unwrap_or(0),
                    ),
                    loss_before: wants.then_some(0.0),
                    batch_reads: VecDeque::new(),
                    progress_read: None,
                    live_read: None,
                });
            }
            let current = self.current.as_mut().expect("set above");
            let wants_batch = current.loss_before.is_some();
            let wants_progress = !wants_batch
                && current.progress_read.is_none()
                && current.progress.wants_update(current.epoch.batches + 1);
            let wants_live = self.live && !wants_batch && current.live_read.is_none();
            let next = current.epoch.next_with(
                model,
                &mut *self.train,
                wants_batch || wants_progress || wants_live,
            )?;
            let Some((batch, _, snapshot)) = next else {
                self.end_epoch(model)?;
                continue;
            };
            ran += 1;
            let b = current.epoch.batches - 1;
            if let Some(snapshot) = snapshot {
                if wants_batch {
                    current.batch_reads.push_back((b, batch.len(), snapshot));
                } else if wants_progress {
                    current.progress_read = Some((b + 1, snapshot));
                } else {
                    current.live_read = Some((b + 1, snapshot));
                }
            }
            // Batch `b` is submitted: deliver what the steps before it left, waiting (if at
            // all) for those steps only.
            if self.deliver(model, Some(b))? {
                self.end_epoch(model)?;
                continue;
            }
            let current = self.current.as_mut().expect("still under way");
            if current.steps.is_some_and(|s| current.epoch.batches >= s) {
                self.end_epoch(model)?;
            }
        }
        Ok(())
    }

    /// Delivers the snapshots of batches before `before` (all of them when `None`): batch
    /// losses to the callbacks, each once its step is done, and the progress line when its
    /// snapshot has arrived (never waiting for that one). True when a callback stopped the
    /// run.
    fn deliver(&mut self, model: &mut Model, before: Option<usize>) -> Result<bool> {
        let callbacks = self.callbacks();
        let current = self.current.as_mut().expect("an epoch is under way");
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        let heads = &compiled.heads;
        while current
            .batch_reads
            .front()
            .is_some_and(|(b, _, _)| before.is_none_or(|n| *b < n))
        {
            let (b, samples, snapshot) = current.batch_reads.pop_front().expect("checked");
            let Readout { evaluation, total } = snapshot.wait(heads)?;
            let before = current.loss_before.unwrap_or(0.0);
            current.loss_before = Some(total);
            let loss = (total - before) / samples as f32;
            if current.progress.wants_update(b + 1) {
                current.progress.update(b + 1, &evaluation.logs(""));
            }
            let mut stopped = None;
            for c in &callbacks {
                if let Control::Stop(why) = lock(c).on_batch_end(current.epoch.epoch, b, loss)? {
                    stopped.get_or_insert(why);
                }
            }
            if let Some(why) = stopped {
                self.history.stopped.get_or_insert(why);
                current.batch_reads.clear();
                return Ok(true);
            }
        }
        if let Some((batches, snapshot)) = current.progress_read.as_mut()
            && let Some(Readout { evaluation, .. }) = snapshot.poll(heads)?
        {
            current.progress.update(*batches, &evaluation.logs(""));
            current.progress_read = None;
        }
        self.poll_live(model)?;
        Ok(false)
    }

    /// Batches in `epoch`, when known.
    fn steps(&self, epoch: usize) -> Option<usize> {
        match (self.train.steps(epoch), self.opts.steps_per_epoch) {
            (Some(s), Some(cap)) => Some(s.min(cap)),
            (s, cap) => s.or(cap),
        }
    }

    /// Logs the epoch under way (its loss and metrics, then the validation's), calls the
    /// callbacks and moves on; finishes after the last epoch or when a callback stops.
    fn end_epoch(&mut self, model: &mut Model) -> Result<()> {
        if self.non_blocking && self.opts.callbacks.is_empty() {
            return self.end_epoch_later(model);
        }
        // Epochs ended without waiting come first in the history.
        self.collect(model, true)?;
        let Some(current) = self.current.as_ref() else {
            return Ok(());
        };
        // One wait for everything: the epoch's sums travel with the validation's first
        // submit (or a submit of their own), the validation's sums are read last, and by
        // then the batches' snapshots still on their way have arrived too.
        let train = current.epoch.snapshot()?;
        let val = match self.validation.as_mut() {
            Some(val) => Some(Epoch::new(model, 0, Mode::Evaluate, None)?.run(model, &mut **val)?),
            None => None,
        };
        if let Some(Device::Gpu(ctx)) = model.compiled.as_ref().map(|c| &c.device) {
            ctx.flush()?;
        }
        if self.history.stopped.is_none() {
            // The last batches' losses reach the callbacks before the epoch's end.
            self.deliver(model, None)?;
        }
        let Some(current) = self.current.take() else {
            return Ok(());
        };
        let epoch = current.epoch.epoch;
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        let mut logs = match train {
            Some(s) => s.wait(&compiled.heads)?.evaluation.logs(""),
            None => Vec::new(),
        };
        if let Some(eval) = val {
            logs.extend(eval.logs("val_"));
        }
        let mut progress = current.progress;
        progress.finish(current.epoch.batches, &logs);
        self.history.push(&logs);
        for c in self.callbacks() {
            if let Control::Stop(why) = lock(&c).on_epoch_end(model, epoch, &logs)? {
                self.history.stopped.get_or_insert(why);
            }
        }
        if let Some(why) = self.history.stopped.as_ref() {
            if self.opts.verbose > 0 {
                crate::progress::say(format_args!("{why}\n"));
            }
            self.finished = true;
        }
        self.next_epoch = epoch + 1;
        if self.next_epoch >= self.opts.epochs {
            self.finished = true;
        }
        Ok(())
    }

    /// As [`advance`](Run::advance), never waiting for the GPU.
    pub(crate) fn advance_without_waiting(
        &mut self,
        model: &mut Model,
        max_batches: usize,
    ) -> Result<()> {
        self.non_blocking = true;
        let result = self.advance(model, max_batches);
        self.non_blocking = false;
        result
    }

    /// Epochs ended whose logs have not arrived yet.
    pub(crate) fn pending_epochs(&self) -> usize {
        self.endings.len()
    }

    /// Where the run stands.
    pub(crate) fn position(&self) -> Position {
        let (epoch, batch, steps) = match &self.current {
            Some(c) => (c.epoch.epoch, c.epoch.batches, c.steps),
            None => (self.next_epoch, 0, self.steps(self.next_epoch)),
        };
        Position {
            epoch,
            batch,
            steps,
            done: self.finished && self.endings.is_empty(),
        }
    }

    /// Stops the run (the epochs done so far stay in the history; a partial epoch does not).
    pub(crate) fn cancel(&mut self) {
        self.finished = true;
        self.current = None;
        self.history
            .stopped
            .get_or_insert_with(|| "cancelled".into());
    }

    pub(crate) fn is_done(&self) -> bool {
        self.finished && self.endings.is_empty()
    }

    /// The training source's batches again, evaluated at the current weights.
    pub(crate) fn evaluate_train(&mut self, model: &mut Model) -> Result<Evaluation> {
        Epoch::new(model, 0, Mode::Evaluate, None)?.run(model, &mut *self.train)
    }
}

/// True when `depth` submits are still running on the GPU: submitting a batch now would
/// queue more than the caller allows, or (at two) wait. Never on the CPU, where a batch is
/// computed by the caller.
fn gpu_full(model: &Model, depth: usize) -> Result<bool> {
    match model.compiled.as_ref().map(|c| &c.device) {
        Some(Device::Gpu(ctx)) => Ok(ctx.submits_running()? >= depth),
        _ => Ok(false),
    }
}
