//! One pass through a model's graph: forward in the order the layers are applied, masks
//! carried beside values; backward in reverse, each value's gradient summed over its readers
//! and each weight's over the places its layer is applied.

use super::build::Built;
use super::graph::{Apply, Graph};
use crate::activation::Activation;
use crate::device::FlushDenormals;
use crate::error::Result;
use crate::layers::Saved;
use crate::ops::bias_act::{bias_act_backward, bias_act_forward};
use crate::ops::elementwise::{BinaryOp, binary};
use crate::ops::softmax::{softmax, softmax_backward};
use crate::tensor::Tensor;

/// The values of one forward pass and what its backward needs.
pub(crate) struct Pass {
    pub(crate) values: Vec<Option<Tensor>>,
    pub(crate) masks: Vec<Option<Tensor>>,
    saved: Vec<Saved>,
    /// For an application whose activation the model applies: the values before it.
    pub(crate) logits: Vec<Option<Tensor>>,
}

// y = act(z) for the activations a layer hands over (z: [..., C], softmax over the last axis)
fn activate(act: Activation, z: &Tensor) -> Result<Tensor> {
    match act {
        Activation::Softmax => softmax(z),
        act => bias_act_forward(z, None, act),
    }
}

// dz = dy * act'(y)
fn activate_backward(act: Activation, y: &Tensor, dy: &Tensor) -> Result<Tensor> {
    match act {
        Activation::Softmax => softmax_backward(y, dy),
        act => bias_act_backward(dy, y, act),
    }
}

/// `a + b`, either one absent.
pub(crate) fn add_opt(a: Option<Tensor>, b: Option<Tensor>) -> Result<Option<Tensor>> {
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some(binary(&a, &b, BinaryOp::Add)?),
        (a, b) => a.or(b),
    })
}

/// Runs the graph on `inputs` (one tensor per model input).
pub(crate) fn forward(graph: &Graph, inputs: &[Tensor], training: bool) -> Result<Pass> {
    let _flush = FlushDenormals::new();
    let mut pass = Pass {
        values: vec![None; graph.values],
        masks: vec![None; graph.values],
        saved: Vec::with_capacity(graph.applies.len()),
        logits: vec![None; graph.applies.len()],
    };
    for (v, x) in inputs.iter().enumerate() {
        pass.values[v] = Some(x.clone());
    }
    for (i, a) in graph.applies.iter().enumerate() {
        let xs: Vec<&Tensor> = a
            .inputs
            .iter()
            .map(|&v| {
                pass.values[v]
                    .as_ref()
                    .expect("values are computed in order")
            })
            .collect();
        let ms: Vec<Option<&Tensor>> = a.inputs.iter().map(|&v| pass.masks[v].as_ref()).collect();
        let out = graph.layers[a.layer].layer.forward(&xs, &ms, training)?;
        pass.saved.push(out.saved);
        for ((&v, y), m) in a.outputs.iter().zip(out.outputs).zip(out.masks) {
            let y = match a.activation {
                Some(act) => {
                    let activated = activate(act, &y)?;
                    pass.logits[i] = Some(y);
                    activated
                }
                None => y,
            };
            pass.values[v] = Some(y);
            pass.masks[v] = m;
        }
    }
    Ok(pass)
}

/// Backpropagates: `grads[v]` holds d(loss)/d(value v) for the outputs (from losses on
/// their values), `logit_grads[a]` d(loss)/d(logits) of application `a` (from losses
/// computed from logits). Returns each layer's weight gradients, summed over its places
/// (`None` for a layer no gradient reached).
pub(crate) fn backward(
    graph: &Graph,
    built: &Built,
    pass: &Pass,
    mut grads: Vec<Option<Tensor>>,
    mut logit_grads: Vec<Option<Tensor>>,
) -> Result<Vec<Option<Vec<Tensor>>>> {
    let _flush = FlushDenormals::new();
    let mut weights: Vec<Option<Vec<Tensor>>> = vec![None; graph.layers.len()];
    for (i, a) in graph.applies.iter().enumerate().rev() {
        let Some(dy) = output_grads(a, pass, &mut grads, logit_grads[i].take())? else {
            continue;
        };
        let layer = &graph.layers[a.layer].layer;
        let need_dx: Vec<bool> = a.inputs.iter().map(|&v| built.needs_grad[v]).collect();
        if layer.params().is_empty() && !need_dx.contains(&true) {
            continue;
        }
        let back = layer.backward(&pass.saved[i], &dy, &need_dx)?;
        for (&v, g) in a.inputs.iter().zip(back.inputs) {
            if built.needs_grad[v] {
                grads[v] = add_opt(grads[v].take(), g)?;
            }
        }
        let sum = match weights[a.layer].take() {
            None => back.params,
            Some(before) => before
                .iter()
                .zip(&back.params)
                .map(|(a, b)| binary(a, b, BinaryOp::Add))
                .collect::<Result<_>>()?,
        };
        weights[a.layer] = Some(sum);
    }
    Ok(weights)
}

/// d(loss)/d(each output) of application `a` (`None` when no gradient reached any): for one
/// output, [`output_grad`]; for several (no activation is handed over then), each value's
/// gradient, zeros for an output no gradient reached.
fn output_grads(
    a: &Apply,
    pass: &Pass,
    grads: &mut [Option<Tensor>],
    from_logits: Option<Tensor>,
) -> Result<Option<Vec<Tensor>>> {
    if a.outputs.len() == 1 {
        return Ok(output_grad(a, pass, grads, from_logits)?.map(|g| vec![g]));
    }
    let taken: Vec<Option<Tensor>> = a.outputs.iter().map(|&v| grads[v].take()).collect();
    if taken.iter().all(Option::is_none) {
        return Ok(None);
    }
    a.outputs
        .iter()
        .zip(taken)
        .map(|(&v, g)| match g {
            Some(g) => Ok(g),
            None => {
                let y = pass.values[v].as_ref().expect("the forward pass set it");
                Tensor::zeros(y.device(), y.dims().to_vec())
            }
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// d(loss)/d(the layer's output) of application `a`: the gradient of its value, through the
/// activation the model applied, plus any gradient computed from its logits.
fn output_grad(
    a: &Apply,
    pass: &Pass,
    grads: &mut [Option<Tensor>],
    from_logits: Option<Tensor>,
) -> Result<Option<Tensor>> {
    let v = a.outputs[0];
    let g = grads[v].take();
    match a.activation {
        None => Ok(g),
        Some(act) => {
            let y = pass.values[v].as_ref().expect("the forward pass set it");
            let through = g.map(|g| activate_backward(act, y, &g)).transpose()?;
            add_opt(through, from_logits)
        }
    }
}
