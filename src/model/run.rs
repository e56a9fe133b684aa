//! The one training loop. `Epoch` draws an epoch's batches from a source and steps the
//! model on each (training, evaluating or predicting); `Run` is `fit` as a step machine:
//! epochs of batches, validation, callbacks, progress and history, advanced by its caller a
//! few batches at a time (`fit` runs it to the end; `Trainer` between an app's frames).
//!
//! The loop's only waits are its readback points, each a call to `Sums::read`: the end of an
//! epoch (its logs, and the validation's), a progress redraw (a few times a second on a
//! terminal), and after each batch for a callback that asks for batch losses. Everything else
//! records work and returns.

use std::sync::{Arc, Mutex};

use super::batch::Batch;
use super::functional::{Model, not_compiled};
use super::history::{Evaluation, History};
use super::options::FitOptions;
use super::pass::forward;
use super::sources::Source;
use super::step::{Sums, step};
use crate::callbacks::{Callback, Control};
use crate::device::Device;
use crate::error::Result;
use crate::progress::Progress;
use crate::tensor::Tensor;

/// What the loop does with each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Train,
    Evaluate,
    Predict,
}

/// One epoch under way.
pub(crate) struct Epoch {
    pub(crate) epoch: usize,
    /// Batches done.
    pub(crate) batches: usize,
    /// Samples done.
    pub(crate) seen: usize,
    limit: Option<usize>,
    sums: Option<Sums>,
    mode: Mode,
}

impl Epoch {
    /// Epoch `epoch` in `mode`, of at most `limit` batches.
    pub(crate) fn new(
        model: &mut Model,
        epoch: usize,
        mode: Mode,
        limit: Option<usize>,
    ) -> Result<Epoch> {
        let (_, compiled) = model.parts()?;
        let sums = match mode {
            Mode::Predict => None,
            _ => Some(Sums::new(&compiled.device, &compiled.heads)?),
        };
        Ok(Epoch {
            epoch,
            batches: 0,
            seen: 0,
            limit,
            sums,
            mode,
        })
    }

    /// Runs the next batch (one submit); `None` once the epoch's data or its limit is done.
    /// Returns the batch, and in predict mode the model's outputs.
    pub(crate) fn next(
        &mut self,
        model: &mut Model,
        source: &mut dyn Source,
    ) -> Result<Option<(Batch, Vec<Tensor>)>> {
        if self.limit.is_some_and(|l| self.batches >= l) {
            return Ok(None);
        }
        let Some(batch) = source.next(self.epoch, self.batches)? else {
            return Ok(None);
        };
        let (graph, compiled) = model.parts()?;
        let outputs = match &self.sums {
            Some(sums) => {
                step(graph, compiled, &batch, sums, self.mode == Mode::Train)?;
                Vec::new()
            }
            None => {
                let pass = forward(graph, &batch.inputs, false)?;
                let outputs = graph
                    .outputs
                    .iter()
                    .map(|&v| pass.values[v].clone().expect("every output is computed"))
                    .collect();
                drop(pass);
                if let Device::Gpu(ctx) = &compiled.device {
                    ctx.flush()?;
                }
                outputs
            }
        };
        self.batches += 1;
        self.seen += batch.len();
        Ok(Some((batch, outputs)))
    }

    /// The epoch's loss and metrics so far (a readback point).
    pub(crate) fn read(&self, model: &Model) -> Result<Evaluation> {
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        match &self.sums {
            Some(s) => s.read(&compiled.heads, self.seen),
            None => Ok(Evaluation {
                loss: 0.0,
                metrics: Vec::new(),
            }),
        }
    }

    /// Runs every batch of the epoch and reads its loss and metrics.
    pub(crate) fn run(mut self, model: &mut Model, source: &mut dyn Source) -> Result<Evaluation> {
        while self.next(model, source)?.is_some() {}
        self.read(model)
    }
}

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
    /// The epoch's loss sum read after the previous batch, when a callback wants batch
    /// losses.
    loss_before: Option<f32>,
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
        })
    }

    fn callbacks(&self) -> Vec<Arc<Mutex<dyn Callback>>> {
        self.opts.callbacks.clone()
    }

    /// Runs up to `max_batches` training batches, ending epochs on the way.
    pub(crate) fn advance(&mut self, model: &mut Model, max_batches: usize) -> Result<()> {
        let mut ran = 0;
        while !self.finished && ran < max_batches {
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
                });
            }
            let steps = self.current.as_ref().expect("set above").steps;
            let callbacks = if self
                .current
                .as_ref()
                .is_some_and(|c| c.loss_before.is_some())
            {
                self.callbacks()
            } else {
                Vec::new()
            };
            let current = self.current.as_mut().expect("set above");
            let Some((batch, _)) = current.epoch.next(model, &mut *self.train)? else {
                self.end_epoch(model)?;
                continue;
            };
            ran += 1;
            let b = current.epoch.batches - 1;
            if let Some(before) = current.loss_before {
                let total = current.epoch.read_total(model)?;
                current.loss_before = Some(total);
                let loss = (total - before) / batch.len() as f32;
                let mut stopped = None;
                for c in &callbacks {
                    if let Control::Stop(why) =
                        lock(c).on_batch_end(current.epoch.epoch, b, loss)?
                    {
                        stopped.get_or_insert(why);
                    }
                }
                if let Some(why) = stopped {
                    self.history.stopped.get_or_insert(why);
                    self.end_epoch(model)?;
                    continue;
                }
            }
            if current.progress.wants_update(current.epoch.batches) {
                let logs = current.epoch.read(model)?.logs("");
                current.progress.update(current.epoch.batches, &logs);
            }
            if steps.is_some_and(|s| current.epoch.batches >= s) {
                self.end_epoch(model)?;
            }
        }
        Ok(())
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
        let Some(current) = self.current.take() else {
            return Ok(());
        };
        let epoch = current.epoch.epoch;
        let mut logs = current.epoch.read(model)?.logs("");
        if let Some(val) = self.validation.as_mut() {
            let eval = Epoch::new(model, 0, Mode::Evaluate, None)?.run(model, &mut **val)?;
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
                println!("{why}");
            }
            self.finished = true;
        }
        self.next_epoch = epoch + 1;
        if self.next_epoch >= self.opts.epochs {
            self.finished = true;
        }
        Ok(())
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
            done: self.finished,
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
        self.finished
    }

    /// The training source's batches again, evaluated at the current weights.
    pub(crate) fn evaluate_train(&mut self, model: &mut Model) -> Result<Evaluation> {
        Epoch::new(model, 0, Mode::Evaluate, None)?.run(model, &mut *self.train)
    }
}

impl Epoch {
    /// The weighted loss summed over the epoch's samples so far (a readback point).
    fn read_total(&self, model: &Model) -> Result<f32> {
        let compiled = model.compiled.as_ref().ok_or_else(not_compiled)?;
        match &self.sums {
            Some(s) => Ok(s.read(&compiled.heads, 1)?.loss),
            None => Ok(0.0),
        }
    }
}
