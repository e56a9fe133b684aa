//! One step of the model on a validated batch: forward, each output's loss and metrics into
//! sums kept on the device, backward, the optimizer update, and the one submit that ends a
//! step.

use super::batch::Batch;
use super::functional::Compiled;
use super::graph::Graph;
use super::pass::{Pass, add_opt, backward, forward};
use super::sums::{Snapshot, Sums};
use crate::activation::Activation;
use crate::device::{Device, FlushDenormals};
use crate::error::Result;
use crate::losses::Grad;
use crate::ops::elementwise::{BinaryOp, affine, binary};
use crate::ops::masked_reduce::masked_scale;
use crate::tensor::Tensor;

/// Forward, losses and metrics into `sums`; with `train`, backward and the optimizer update;
/// with `snapshot` (the epoch's samples after this batch), a snapshot of the sums taken in
/// the same submit; then one submit, after the step's intermediate values are released (a
/// buffer released before a submit is reused from the next one on; one released after it
/// would stay out of the pool for a step more).
pub(crate) fn step(
    graph: &mut Graph,
    compiled: &mut Compiled,
    batch: &Batch,
    sums: &Sums,
    train: bool,
    snapshot: Option<usize>,
) -> Result<Option<Snapshot>> {
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
    let snapshot = snapshot.map(|samples| sums.snapshot(samples)).transpose()?;
    if let Device::Gpu(ctx) = &compiled.device {
        ctx.flush()?;
    }
    Ok(snapshot)
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
