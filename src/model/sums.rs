//! An epoch's running loss and metric sums, kept on the device, and the snapshots through
//! which the loop reads them: one blocking read at the end of an epoch, asynchronous ones
//! (a step late) for progress and batch-end callbacks.

use std::cell::Cell;

use super::history::Evaluation;
use super::outputs::Head;
use crate::device::{Device, PendingRead};
use crate::error::Result;
use crate::ops::elementwise::{BinaryOp, axpy, binary};
use crate::ops::reduce::sum;
use crate::tensor::Tensor;

/// Running sums of one output's loss and metrics over an epoch, on the device, weighted as
/// Keras weights them: the loss as the batch-size-weighted mean of each batch's loss (itself
/// a mean over the batch's rows, or over its unmasked steps), which makes the total loss;
/// each metric as a mean over all rows (or all unmasked steps) of the epoch. Keras logs each
/// output's own loss (`{name}_loss`, with several outputs) as the plain mean of its batch
/// losses, every batch counting once whatever its size: `batch_means` keeps that sum.
struct HeadSums {
    loss: Tensor,
    batch_means: Tensor,
    batches: Cell<usize>,
    metrics: Vec<Tensor>,
    /// Rows counted on the host (batches without a mask) and on the device (mask sums).
    rows_host: Cell<usize>,
    rows_device: Tensor,
}

/// The sums of every output.
pub(crate) struct Sums {
    heads: Vec<HeadSums>,
}

impl Sums {
    pub(crate) fn new(device: &Device, heads: &[Head]) -> Result<Sums> {
        let zero = || Tensor::zeros(device, Vec::<usize>::new());
        Ok(Sums {
            heads: heads
                .iter()
                .map(|h| {
                    Ok(HeadSums {
                        loss: zero()?,
                        batch_means: zero()?,
                        batches: Cell::new(0),
                        metrics: (0..h.metrics.len())
                            .map(|_| zero())
                            .collect::<Result<_>>()?,
                        rows_host: Cell::new(0),
                        rows_device: zero()?,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }

    /// Adds a batch of `batch` samples to output `k`: per-row losses and metric values
    /// (already multiplied by the mask when there is one) and the mask's sum.
    pub(super) fn add(
        &self,
        k: usize,
        batch: usize,
        loss_rows: &Tensor,
        metric_rows: &[Tensor],
        mask_total: Option<&Tensor>,
    ) -> Result<()> {
        let s = &self.heads[k];
        let total = |t: &Tensor| sum(&t.reshape([t.numel()])?, 0);
        let several = self.heads.len() > 1;
        match mask_total {
            None => {
                let rows = loss_rows.numel();
                let sum = total(loss_rows)?;
                axpy(&s.loss, batch as f32 / rows as f32, &sum)?;
                if several {
                    axpy(&s.batch_means, 1.0 / rows as f32, &sum)?;
                }
                s.rows_host.set(s.rows_host.get() + rows);
            }
            Some(count) => {
                let batch_mean = binary(&total(loss_rows)?, count, BinaryOp::DivNoNan)?;
                axpy(&s.loss, batch as f32, &batch_mean)?;
                if several {
                    axpy(&s.batch_means, 1.0, &batch_mean)?;
                }
                axpy(&s.rows_device, 1.0, count)?;
            }
        }
        s.batches.set(s.batches.get() + 1);
        for (acc, rows) in s.metrics.iter().zip(metric_rows) {
            axpy(acc, 1.0, &total(rows)?)?;
        }
        Ok(())
    }

    /// Reads the sums back (blocking; a readback point): the total loss per sample over
    /// `samples` (Σ weight × each output's), each output's own loss when there are several
    /// (the mean of its batch losses, as Keras logs it), and the metrics per row.
    pub(crate) fn read(&self, heads: &[Head], samples: usize) -> Result<Evaluation> {
        Ok(self.snapshot(samples)?.wait(heads)?.evaluation)
    }

    /// Starts reading the sums as they stand once the work recorded so far is done. On a
    /// GPU the copies ride with the next submit and nothing waits; the CPU reads at once.
    pub(crate) fn snapshot(&self, samples: usize) -> Result<Snapshot> {
        let tensors: Vec<&Tensor> = self
            .heads
            .iter()
            .flat_map(|s| {
                [&s.loss, &s.batch_means, &s.rows_device]
                    .into_iter()
                    .chain(&s.metrics)
            })
            .collect();
        let values = match tensors.first().and_then(|t| t.gpu_buffer()) {
            Some(first) => {
                let bufs: Vec<_> = tensors
                    .iter()
                    .map(|t| (crate::ops::buf(t), 4 * t.numel() as u64))
                    .collect();
                Values::Pending(first.ctx().read_async(&bufs)?)
            }
            None => Values::Ready(
                tensors
                    .iter()
                    .map(|t| Ok(t.to_vec_blocking()?[0]))
                    .collect::<Result<_>>()?,
            ),
        };
        Ok(Snapshot {
            values,
            counts: self
                .heads
                .iter()
                .map(|s| (s.batches.get(), s.rows_host.get()))
                .collect(),
            samples,
        })
    }
}

/// The sums read at one point of an epoch, arriving (on a GPU) while later steps run.
pub(crate) struct Snapshot {
    values: Values,
    /// Per output: batches added and rows counted on the host, when the snapshot was taken.
    counts: Vec<(usize, usize)>,
    samples: usize,
}

enum Values {
    Ready(Vec<f32>),
    Pending(PendingRead),
}

impl Snapshot {
    /// The readout if the values have arrived; never waits.
    pub(crate) fn poll(&mut self, heads: &[Head]) -> Result<Option<Readout>> {
        if let Values::Pending(p) = &mut self.values {
            match p.poll()? {
                Some(bytes) => self.values = Values::Ready(floats(bytes)),
                None => return Ok(None),
            }
        }
        Ok(Some(self.evaluation(heads)))
    }

    /// The readout, waiting for the step it was taken after (and no later one).
    pub(crate) fn wait(self, heads: &[Head]) -> Result<Readout> {
        let snapshot = match self.values {
            Values::Pending(p) => Snapshot {
                values: Values::Ready(floats(p.wait()?)),
                ..self
            },
            Values::Ready(_) => self,
        };
        Ok(snapshot.evaluation(heads))
    }

    /// The readout, waiting (in place) for the step it was taken after if it has not
    /// arrived yet.
    pub(crate) fn wait_mut(&mut self, heads: &[Head]) -> Result<Readout> {
        if let Values::Pending(_) = &self.values {
            let Values::Pending(p) = std::mem::replace(&mut self.values, Values::Ready(Vec::new()))
            else {
                unreachable!("checked above")
            };
            self.values = Values::Ready(floats(p.wait()?));
        }
        Ok(self.evaluation(heads))
    }

    /// True once a submit carries the snapshot's copies (always on the CPU).
    pub(crate) fn submitted(&self) -> bool {
        match &self.values {
            Values::Ready(_) => true,
            Values::Pending(p) => p.submitted(),
        }
    }

    fn evaluation(&self, heads: &[Head]) -> Readout {
        let Values::Ready(values) = &self.values else {
            unreachable!("evaluated once the values are ready")
        };
        let mut values = values.iter().copied();
        let mut next = || values.next().unwrap_or(0.0);
        let (mut total, mut sum_total) = (0.0, 0.0);
        let mut metrics = Vec::new();
        for (h, &(batches, rows_host)) in heads.iter().zip(&self.counts) {
            let (loss, batch_means, rows_device) = (next(), next(), next());
            let rows = rows_host as f32 + rows_device;
            sum_total += h.weight * loss;
            let loss = loss / self.samples.max(1) as f32;
            total += h.weight * loss;
            if heads.len() > 1 {
                let mean = batch_means / batches.max(1) as f32;
                metrics.push((h.log_name("loss", heads.len()), mean));
            }
            for m in &h.metrics {
                let sum = next();
                let v = if rows > 0.0 { sum / rows } else { 0.0 };
                metrics.push((h.log_name(m.name(), heads.len()), v));
            }
        }
        Readout {
            evaluation: Evaluation {
                loss: total,
                metrics,
            },
            total: sum_total,
        }
    }
}

/// What a snapshot reads: the logs, and the total loss summed over the samples so far
/// (Σ weight × each output's sum, from which the loop takes each batch's loss).
pub(crate) struct Readout {
    pub(crate) evaluation: Evaluation,
    pub(crate) total: f32,
}

fn floats(bytes: Vec<Vec<u8>>) -> Vec<f32> {
    bytes
        .iter()
        .map(|b| {
            b.get(..4)
                .map_or(0.0, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        })
        .collect()
}
