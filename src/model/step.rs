//! One step of the model on a validated batch: forward, each output's loss and metrics into
//! sums kept on the device, backward, the optimizer update, and the one submit that ends a
//! step.

use std::cell::Cell;

use super::batch::Batch;
use super::functional::Compiled;
use super::graph::Graph;
use super::history::Evaluation;
use super::outputs::Head;
use super::pass::{Pass, add_opt, backward, forward};
use crate::activation::Activation;
use crate::device::{Device, FlushDenormals};
use crate::error::Result;
use crate::losses::Grad;
use crate::ops::elementwise::{BinaryOp, affine, axpy, binary};
use crate::ops::masked_reduce::masked_scale;
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
    fn add(
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

    /// Reads the sums back (blocking; the loop's readback point): the total loss per sample
    /// over `samples` (Σ weight × each output's), each output's own loss when there are
    /// several (the mean of its batch losses, as Keras logs it), and the metrics per row.
    pub(crate) fn read(&self, heads: &[Head], samples: usize) -> Result<Evaluation> {
        let value = |t: &Tensor| -> Result<f32> { Ok(t.to_vec_blocking()?[0]) };
        let mut total = 0.0;
        let mut metrics = Vec::new();
        for (h, s) in heads.iter().zip(&self.heads) {
            let rows = s.rows_host.get() as f32 + value(&s.rows_device)?;
            let loss = value(&s.loss)? / samples.max(1) as f32;
            total += h.weight * loss;
            if heads.len() > 1 {
                let mean = value(&s.batch_means)? / s.batches.get().max(1) as f32;
                metrics.push((h.log_name("loss", heads.len()), mean));
            }
            for (m, t) in h.metrics.iter().zip(&s.metrics) {
                let v = if rows > 0.0 { value(t)? / rows } else { 0.0 };
                metrics.push((h.log_name(m.name(), heads.len()), v));
            }
        }
        Ok(Evaluation {
            loss: total,
            metrics,
        })
    }
}

/// Forward, losses and metrics into `sums`; with `train`, backward and the optimizer update;
/// then one submit, after the step's intermediate values are released (a buffer released
/// before a submit is reused from the next one on; one released after it would stay out of
/// the pool for a step more).
pub(crate) fn step(
    graph: &mut Graph,
    compiled: &mut Compiled,
    batch: &Batch,
    sums: &Sums,
    train: bool,
) -> Result<()> {
    // The CPU reference computes as GPUs and TensorFlow do: subnormals flushed to zero.
    let _flush = FlushDenormals::new();
    let pass = forward(graph, &batch.inputs, train)?;
    let (grads, logit_grads) = losses(graph, compiled, &pass, batch, sums, train)?;
    if train {
        let built = compiled
            .built
            .as_ref()
            .expect("a model is built before it trains");
        let weights = backward(graph, built, &pass, grads, logit_grads)?;
        update(graph, compiled, weights)?;
    }
    drop(pass);
    if let Device::Gpu(ctx) = &compiled.device {
        ctx.flush()?;
    }
    Ok(())
}

/// Gradients of the weighted losses w.r.t. the output values and the logits.
type LossGrads = (Vec<Option<Tensor>>, Vec<Option<Tensor>>);

/// Each output's loss and metrics into `sums`; with `grads`, their gradients (scaled by the
/// output's loss weight) w.r.t. the output values, or the logits where the loss was computed
/// from them.
pub(crate) fn losses(
    graph: &Graph,
    compiled: &Compiled,
    pass: &Pass,
    batch: &Batch,
    sums: &Sums,
    grads: bool,
) -> Result<LossGrads> {
    let mut value_grads: Vec<Option<Tensor>> = vec![None; graph.values];
    let mut logit_grads: Vec<Option<Tensor>> = vec![None; graph.applies.len()];
    let rows = batch.len();
    for (k, head) in compiled.heads.iter().enumerate() {
        let v = graph.outputs[k];
        let pred = pass.values[v].as_ref().expect("every output is computed");
        let producer = graph.applies.iter().position(|a| a.outputs.contains(&v));
        let (logits, last) = match producer.map(|a| (a, graph.applies[a].activation)) {
            Some((a, Some(act))) => (pass.logits[a].as_ref(), act),
            _ => (None, Activation::Linear),
        };
        let y = &batch.targets[k];
        let mask = pass.masks[v].as_ref();
        let (mut loss_rows, mut grad, mask_total) = head
            .loss
            .forward_backward(pred, logits, last, y, grads, mask)?;
        let mut metric_rows: Vec<Tensor> = head
            .metrics
            .iter()
            .map(|m| m.per_sample(head.loss, pred, y))
            .collect::<Result<_>>()?;
        if let Some(w) = &batch.weights {
            // Keras: a batch's loss is Σ w·loss / batch size; `metrics=` ignore the weights
            // (Keras weighs only its `weighted_metrics`).
            if mask.is_some() || loss_rows.numel() != rows {
                return Err(crate::error::Error::Config(format!(
                    "sample weights for output '{}', which has a time axis or a mask, are not supported yet",
                    head.name
                )));
            }
            loss_rows = binary(&loss_rows.reshape([rows])?, w, BinaryOp::Mul)?;
            let one = Tensor::from_vec(w.device(), [1], vec![1.0])?;
            grad = grad
                .map(|g| -> Result<Grad> {
                    Ok(match g {
                        Grad::Logits(t) => Grad::Logits(masked_scale(&t, w, &one)?),
                        Grad::Output(t) => Grad::Output(masked_scale(&t, w, &one)?),
                    })
                })
                .transpose()?;
        }
        if let Some(mask) = mask {
            let m = mask.reshape([mask.numel()])?;
            for r in &mut metric_rows {
                *r = binary(&r.reshape([m.numel()])?, &m, BinaryOp::Mul)?;
            }
        }
        sums.add(k, rows, &loss_rows, &metric_rows, mask_total.as_ref())?;
        let weighted = |t: Tensor| -> Result<Tensor> {
            if head.weight == 1.0 {
                Ok(t)
            } else {
                affine(&t, head.weight, 0.0)
            }
        };
        match grad {
            Some(Grad::Logits(dz)) => {
                let a = producer.expect("a loss from logits has a layer that made them");
                logit_grads[a] = add_opt(logit_grads[a].take(), Some(weighted(dz)?))?;
            }
            Some(Grad::Output(dy)) => {
                value_grads[v] = add_opt(value_grads[v].take(), Some(weighted(dy)?))?;
            }
            None => {}
        }
    }
    Ok((value_grads, logit_grads))
}

/// One optimizer step on every weight a gradient reached (as Keras, a weight no loss
/// depends on is left as it is).
fn update(
    graph: &mut Graph,
    compiled: &mut Compiled,
    weights: Vec<Option<Vec<Tensor>>>,
) -> Result<()> {
    let built = compiled
        .built
        .as_mut()
        .expect("a model is built before it trains");
    built.step += 1;
    let mut slots = built.slots.iter();
    for (slot, grads) in graph.layers.iter_mut().zip(weights) {
        let params = slot.layer.params_mut();
        let n = params.len();
        let layer_slots: Vec<&Vec<Tensor>> = slots.by_ref().take(n).collect();
        let Some(grads) = grads else { continue };
        for ((p, s), g) in params.into_iter().zip(layer_slots).zip(&grads) {
            compiled.optimizer.apply(&p.value, s, g, built.step)?;
        }
    }
    Ok(())
}
