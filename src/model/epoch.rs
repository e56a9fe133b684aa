//! One epoch of the loop: draws batches from a source and steps the model on each
//! (training, evaluating or predicting), keeping the epoch's sums and taking snapshots of them
//! in a step's own submit when asked.

use super::batch::Batch;
use super::functional::{Model, not_compiled};
use super::history::Evaluation;
use super::pass::forward;
use super::sources::Source;
use super::step::step;
use super::sums::{Snapshot, Sums};
use crate::device::Device;
use crate::error::Result;
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
        Ok(self
            .next_with(model, source, false)?
            .map(|(batch, outputs, _)| (batch, outputs)))
    }

    /// As [`next`](Epoch::next); with `snapshot`, also a snapshot of the sums after the
    /// batch, taken in the batch's own submit.
    pub(crate) fn next_with(
        &mut self,
        model: &mut Model,
        source: &mut dyn Source,
        snapshot: bool,
    ) -> Result<Option<Stepped>> {
        if self.limit.is_some_and(|l| self.batches >= l) {
            return Ok(None);
        }
        let Some(batch) = source.next(self.epoch, self.batches)? else {
            return Ok(None);
        };
        let (graph, compiled) = model.parts()?;
        let seen = self.seen + batch.len();
        let (outputs, snapshot) = match &self.sums {
            Some(sums) => {
                let train = self.mode == Mode::Train;
                let snapshot = step(
                    graph,
                    compiled,
                    &batch,
                    sums,
                    train,
                    snapshot.then_some(seen),
                )?;
                (Vec::new(), snapshot)
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
                (outputs, None)
            }
        };
        self.batches += 1;
        self.seen = seen;
        Ok(Some((batch, outputs, snapshot)))
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

/// A batch run by [`Epoch::next_with`]: the batch, the outputs (predict mode), and the
/// snapshot asked for.
pub(crate) type Stepped = (Batch, Vec<Tensor>, Option<Snapshot>);

impl Epoch {
    /// A snapshot of the epoch's sums as they stand (none in predict mode).
    pub(crate) fn snapshot(&self) -> Result<Option<Snapshot>> {
        self.sums
            .as_ref()
            .map(|s| s.snapshot(self.seen))
            .transpose()
    }
}
