//! One step of the model: forward (with masks), loss and metric sums kept on the device,
//! backward, the optimizer update, and the one submit that ends a step.

use ndarray::ArrayD;

use super::history::Evaluation;
use super::sequential::Compiled;
use crate::device::{Device, FlushDenormals};
use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::losses::Grad;
use std::cell::Cell;

use crate::ops::elementwise::{BinaryOp, axpy, binary};
use crate::ops::reduce::sum;
use crate::tensor::Tensor;

/// Running sums of loss and metrics for an epoch, on the device, weighted as Keras weights
/// them: the loss as the batch-size-weighted mean of each batch's loss (itself a mean over
/// the batch's rows, or over its unmasked steps); each metric as a mean over all rows (or all
/// unmasked steps) of the epoch.
pub(crate) struct Sums {
    loss: Tensor,
    metrics: Vec<Tensor>,
    /// Rows counted on the host (batches without a mask) and on the device (mask sums).
    rows_host: Cell<usize>,
    rows_device: Tensor,
}

impl Sums {
    pub(crate) fn new(device: &Device, metrics: usize) -> Result<Sums> {
        let zero = || Tensor::zeros(device, Vec::<usize>::new());
        Ok(Sums {
            loss: zero()?,
            metrics: (0..metrics).map(|_| zero()).collect::<Result<_>>()?,
            rows_host: Cell::new(0),
            rows_device: zero()?,
        })
    }

    /// Adds a batch of `batch` samples: per-row losses and metric values (already multiplied
    /// by the mask when there is one) and the mask's sum.
    fn add(
        &self,
        batch: usize,
        loss_rows: &Tensor,
        metric_rows: &[Tensor],
        mask_total: Option<&Tensor>,
    ) -> Result<()> {
        let total = |t: &Tensor| sum(&t.reshape([t.numel()])?, 0);
        match mask_total {
            None => {
                let rows = loss_rows.numel();
                axpy(&self.loss, batch as f32 / rows as f32, &total(loss_rows)?)?;
                self.rows_host.set(self.rows_host.get() + rows);
            }
            Some(count) => {
                let batch_mean = binary(&total(loss_rows)?, count, BinaryOp::DivNoNan)?;
                axpy(&self.loss, batch as f32, &batch_mean)?;
                axpy(&self.rows_device, 1.0, count)?;
            }
        }
        for (acc, rows) in self.metrics.iter().zip(metric_rows) {
            axpy(acc, 1.0, &total(rows)?)?;
        }
        Ok(())
    }

    /// Reads the sums back (blocking): the loss per sample over `samples`, the metrics per row.
    pub(crate) fn read(&self, compiled: &Compiled, samples: usize) -> Result<Evaluation> {
        let value = |t: &Tensor| -> Result<f32> { Ok(t.to_vec_blocking()?[0]) };
        let rows = self.rows_host.get() as f32 + value(&self.rows_device)?;
        let per_row =
            |t: &Tensor| -> Result<f32> { Ok(if rows > 0.0 { value(t)? / rows } else { 0.0 }) };
        Ok(Evaluation {
            loss: value(&self.loss)? / samples.max(1) as f32,
            metrics: compiled
                .metrics
                .iter()
                .zip(&self.metrics)
                .map(|(m, t)| Ok((m.name().to_string(), per_row(t)?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// Runs the layers, passing each one's mask to the next; returns the output and its mask.
pub(crate) fn forward(
    layers: &mut [Box<dyn Layer>],
    x: &Tensor,
    training: bool,
) -> Result<(Tensor, Option<Tensor>)> {
    let _flush = FlushDenormals::new();
    let mut h = x.clone();
    let mut mask: Option<Tensor> = None;
    for layer in layers.iter_mut() {
        (h, mask) = layer.forward_masked(&h, mask.as_ref(), training)?;
    }
    Ok((h, mask))
}

/// Shows the first layer the batch's raw values when it asks (an Embedding's token ids).
pub(crate) fn observe(
    layers: &mut [Box<dyn Layer>],
    host_x: Option<&ArrayD<f32>>,
    batch: usize,
    samples: &[usize],
) -> Result<()> {
    if layers[0].needs_host_input() {
        let x = host_x.ok_or_else(|| {
            Error::Config("the first layer needs host batches but none were given".into())
        })?;
        layers[0].observe_input(&x.view(), batch, samples)?;
    }
    Ok(())
}

/// Forward, loss and metrics into `sums`; with `train`, backward and the optimizer update;
/// then one submit.
pub(crate) fn step(
    layers: &mut [Box<dyn Layer>],
    compiled: &mut Compiled,
    x: &Tensor,
    y: &Tensor,
    sums: &Sums,
    train: bool,
) -> Result<Tensor> {
    // The CPU reference computes as GPUs and TensorFlow do: subnormals flushed to zero.
    let _flush = FlushDenormals::new();
    let pred = forward_backward(layers, compiled, x, y, sums, train)?;
    if train {
        update(layers, compiled)?;
    }
    if let Device::Gpu(ctx) = &compiled.device {
        ctx.flush()?;
    }
    Ok(pred)
}

/// Forward, loss and metrics into `sums`, and with `grads` the backward pass, which leaves
/// each weight's gradient in its `Param`.
pub(crate) fn forward_backward(
    layers: &mut [Box<dyn Layer>],
    compiled: &Compiled,
    x: &Tensor,
    y: &Tensor,
    sums: &Sums,
    grads: bool,
) -> Result<Tensor> {
    let (pred, out_mask) = forward(layers, x, grads)?;
    let last = layers
        .last_mut()
        .expect("compile checked the model has layers");
    let logits = last
        .logits()
        .map(|l| l.reshape(pred.dims().to_vec()))
        .transpose()?;
    let batch = x.dims().first().copied().unwrap_or(0);
    let (loss_rows, grad, mask_total) = compiled.loss.forward_backward(
        &pred,
        logits.as_ref(),
        last.activation(),
        y,
        grads,
        out_mask.as_ref(),
    )?;
    let mut metric_rows: Vec<Tensor> = compiled
        .metrics
        .iter()
        .map(|m| m.per_sample(compiled.loss, &pred, y))
        .collect::<Result<_>>()?;
    if let Some(mask) = &out_mask {
        let m = mask.reshape([mask.numel()])?;
        for rows in &mut metric_rows {
            *rows = binary(&rows.reshape([m.numel()])?, &m, BinaryOp::Mul)?;
        }
    }
    sums.add(batch, &loss_rows, &metric_rows, mask_total.as_ref())?;
    if let Some(grad) = grad {
        // Backpropagation stops at the first layer with weights: below it (an input Masking or
        // Flatten) nothing needs a gradient, and an LSTM's `dx = dz · kernelᵀ` is not free.
        let n = layers.len();
        let first = layers
            .iter()
            .position(|l| !l.params().is_empty())
            .unwrap_or(n - 1);
        let mut d = match grad {
            Grad::Logits(dz) => layers[n - 1].backward_from_logits(&dz, n - 1 > first)?,
            Grad::Output(dy) => layers[n - 1].backward(&dy, n - 1 > first)?,
        };
        for i in (first..n - 1).rev() {
            let dy = d
                .take()
                .expect("every layer above the first with weights passes a gradient down");
            d = layers[i].backward(&dy, i > first)?;
        }
    }
    Ok(pred)
}

/// One optimizer step on every weight from the gradients the backward pass left.
fn update(layers: &mut [Box<dyn Layer>], compiled: &mut Compiled) -> Result<()> {
    let built = compiled
        .built
        .as_mut()
        .expect("a model is built before it trains");
    built.step += 1;
    let params = layers.iter_mut().flat_map(|l| l.params_mut());
    for (p, slots) in params.zip(&built.slots) {
        let g = p
            .grad
            .take()
            .ok_or_else(|| Error::Config(format!("no gradient for a {} weight", p.role)))?;
        compiled.optimizer.apply(&p.value, slots, &g, built.step)?;
    }
    Ok(())
}
