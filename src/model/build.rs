//! Building a compiled model's weights once its input shapes are known: each layer in the
//! order it is applied, then the optimizer's slots for every weight.

use std::collections::HashSet;

use super::functional::{Compiled, Model, not_compiled};
use super::graph::Graph;
use crate::error::{Error, Result};
use crate::layers::Dims;
use crate::shape::InputSpec;
use crate::tensor::Tensor;

/// What a built model knows beyond its layers.
pub(crate) struct Built {
    /// Each input's spec, batch dim first.
    pub(crate) specs: Vec<InputSpec>,
    /// The per-sample dims of every value of the graph.
    pub(crate) value_dims: Vec<Dims>,
    /// Whether a value's gradient is needed: it depends on a weight. Backpropagation stops
    /// where it is not (below the first layers with weights: an input Masking or Flatten
    /// needs no gradient, and an LSTM's `dx = dz · kernelᵀ` is not free).
    pub(crate) needs_grad: Vec<bool>,
    /// Optimizer slots per weight, in model order (layers, then each layer's params).
    pub(crate) slots: Vec<Vec<Tensor>>,
    /// Optimizer steps taken (Adam's t).
    pub(crate) step: u64,
}

impl Built {
    /// The per-sample dims of model output `k`.
    pub(crate) fn output_dims<'a>(&'a self, graph: &Graph, k: usize) -> &'a Dims {
        &self.value_dims[graph.outputs[k]]
    }
}

/// A layer's build error, naming the layer.
fn in_layer(name: &str, kind: &str, e: Error) -> Error {
    match e {
        Error::Config(m) => Error::Config(format!("layer '{name}' ({kind}): {m}")),
        other => other,
    }
}

impl Model {
    /// Creates every layer's weights for per-sample input shapes `inputs`.
    pub(crate) fn build(&mut self, inputs: &[Dims]) -> Result<()> {
        self.build_guarded(inputs, &|_, _| Ok(()))
    }

    /// [`build`](Model::build), asking `guard(layer, input dims)` before each layer makes
    /// its weights: a loaded file checks there that they are the weights it holds, before
    /// anything is allocated for them.
    pub(crate) fn build_guarded(
        &mut self,
        inputs: &[Dims],
        guard: &dyn Fn(usize, &[Dims]) -> Result<()>,
    ) -> Result<()> {
        let compiled = self.compiled.as_mut().ok_or_else(not_compiled)?;
        let graph = &mut self.graph;
        let mut value_dims: Vec<Option<Dims>> = vec![None; graph.values];
        let mut needs_grad = vec![false; graph.values];
        for (v, d) in inputs.iter().enumerate() {
            value_dims[v] = Some(d.clone());
        }
        let mut built_layers = HashSet::new();
        let chain = graph.is_chain();
        for a in &graph.applies {
            let dims: Vec<Dims> = a
                .inputs
                .iter()
                .map(|&v| value_dims[v].clone().expect("values are computed in order"))
                .collect();
            let slot = &mut graph.layers[a.layer];
            let (name, kind) = (slot.name.clone(), slot.layer.kind());
            let out = if built_layers.insert(a.layer) {
                guard(a.layer, &dims)?;
                slot.layer
                    .build(&compiled.device, &dims, &mut compiled.rng)
                    .map_err(|e| in_layer(&name, kind, e))?
            } else {
                // A layer applied again keeps the weights of its first application: build it
                // for these inputs to learn its output shapes, then put its weights back. (A
                // loaded file's guard checks these inputs too, before anything is allocated.)
                guard(a.layer, &dims)?;
                let kept: Vec<Tensor> = slot
                    .layer
                    .params()
                    .iter()
                    .map(|p| p.value.clone())
                    .collect();
                let mut scratch = rand::SeedableRng::seed_from_u64(0);
                let out = slot
                    .layer
                    .build(&compiled.device, &dims, &mut scratch)
                    .map_err(|e| in_layer(&name, kind, e))?;
                let params = slot.layer.params_mut();
                if params.len() != kept.len()
                    || params
                        .iter()
                        .zip(&kept)
                        .any(|(p, k)| p.value.dims() != k.dims())
                {
                    return Err(Error::Config(format!(
                        "layer '{name}' ({kind}) is applied to inputs of other shapes ({}) than at its first place; shared weights need one shape",
                        dims.iter()
                            .map(|d| crate::error::fmt_dims(d))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                for (p, k) in params.into_iter().zip(kept) {
                    p.value = k;
                }
                out
            };
            // A layer may give more outputs than a graph reads (those are left unused), but a
            // chain passes one from layer to layer.
            if out.len() < a.outputs.len() || (out.len() > a.outputs.len() && chain) {
                return Err(Error::Config(format!(
                    "layer '{name}' ({kind}) gives {} outputs where {} were expected",
                    out.len(),
                    a.outputs.len()
                )));
            }
            let grads = !slot.layer.params().is_empty() || a.inputs.iter().any(|&v| needs_grad[v]);
            for (&v, d) in a.outputs.iter().zip(out) {
                value_dims[v] = Some(d);
                needs_grad[v] = grads;
            }
        }
        let specs = inputs
            .iter()
            .enumerate()
            .map(|(v, d)| {
                let mut dims = vec![None];
                dims.extend_from_slice(d);
                InputSpec::new(graph.input_label(v), dims)
            })
            .collect();
        let mut slots = Vec::new();
        for slot in &graph.layers {
            for p in slot.layer.params() {
                slots.push(compiled.optimizer.new_slots(&compiled.device, &p.value)?);
            }
        }
        compiled.built = Some(Built {
            specs,
            value_dims: value_dims
                .into_iter()
                .map(|d| d.unwrap_or_default())
                .collect(),
            needs_grad,
            slots,
            step: 0,
        });
        Ok(())
    }

    /// Builds from the data's per-sample shapes (`samples[i]` for input `i`) when an input
    /// declared none; the input then takes any length along its first layer's free axes.
    pub(crate) fn ensure_built(&mut self, samples: &[&[usize]]) -> Result<()> {
        let compiled = self.compiled.as_ref().ok_or_else(not_compiled)?;
        if compiled.built.is_some() {
            return Ok(());
        }
        let dims: Vec<Dims> = self
            .graph
            .inputs
            .iter()
            .enumerate()
            .map(|(v, i)| match &i.dims {
                Some(d) => d.clone(),
                None => {
                    let sample = samples.get(v).copied().unwrap_or(&[]);
                    match self.graph.applies.iter().find(|a| a.inputs.contains(&v)) {
                        Some(a) => self.graph.layers[a.layer].layer.input_template(sample),
                        None => sample.iter().map(|&d| Some(d)).collect(),
                    }
                }
            })
            .collect();
        self.build(&dims)
    }

    /// The graph and the compiled state, for the training loop.
    pub(crate) fn parts(&mut self) -> Result<(&mut Graph, &mut Compiled)> {
        let compiled = self.compiled.as_mut().ok_or_else(not_compiled)?;
        Ok((&mut self.graph, compiled))
    }
}
