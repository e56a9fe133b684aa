//! A model's graph, owned: its inputs, its layers in Keras's `model.layers` order, the places
//! each layer is applied (in an order that computes every value before it is read), and its
//! outputs. Made from nodes by `Graph::from_nodes` (the functional API, `graph_trace.rs`)
//! or `Graph::chain` (a `Sequential`).

use super::node::LayerEntry;
use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::layers::{Accepts, Dims, Layer};

#[path = "graph_trace.rs"]
mod trace;

/// A model input: its name and per-sample dims (`None` until data is seen, in a
/// `Sequential` that declares none).
pub(crate) struct GraphInput {
    pub(crate) name: String,
    pub(crate) dims: Option<Dims>,
    /// `Some(vocab)` when the input feeds id layers (an Embedding): its values are token ids.
    pub(crate) ids: Option<usize>,
    /// True when the user named it.
    pub(crate) given: bool,
}

/// One of the model's layers and its name.
pub(crate) struct Slot {
    pub(crate) layer: Box<dyn Layer>,
    pub(crate) name: String,
    /// True when the user named it (else the name is a default).
    pub(crate) given: bool,
}

/// A layer applied once: values in, values out (values `0..inputs` are the model's inputs).
pub(crate) struct Apply {
    pub(crate) layer: usize,
    pub(crate) inputs: Vec<usize>,
    pub(crate) outputs: Vec<usize>,
    /// The activation the layer handed over (a model output's softmax or sigmoid), which
    /// the model applies after it, so a crossentropy can be computed from logits.
    pub(crate) activation: Option<Activation>,
}

pub(crate) struct Graph {
    pub(crate) inputs: Vec<GraphInput>,
    pub(crate) layers: Vec<Slot>,
    pub(crate) applies: Vec<Apply>,
    pub(crate) outputs: Vec<usize>,
    pub(crate) values: usize,
}

impl Graph {
    /// A chain: one input, each layer applied to the one before (a `Sequential`).
    pub(crate) fn chain(input: Option<Dims>, layers: Vec<LayerEntry>) -> Graph {
        let applies = (0..layers.len())
            .map(|i| Apply {
                layer: i,
                inputs: vec![i],
                outputs: vec![i + 1],
                activation: None,
            })
            .collect();
        let n = layers.len();
        Graph::assemble(vec![(input, None)], layers, applies, vec![n], n + 1)
    }

    /// The layers back, with their names (to add one to a chain).
    pub(crate) fn into_layers(self) -> Vec<LayerEntry> {
        self.layers
            .into_iter()
            .map(|s| {
                let given = s.given.then_some(s.name);
                (s.layer, given)
            })
            .collect()
    }

    fn assemble(
        inputs: Vec<(Option<Dims>, Option<String>)>,
        layers: Vec<LayerEntry>,
        applies: Vec<Apply>,
        outputs: Vec<usize>,
        values: usize,
    ) -> Graph {
        let (layers, applies) =
            super::keras_order::in_keras_order(layers, applies, &inputs, &outputs, values);
        let mut names = Names::default();
        for (_, n) in &layers {
            if let Some(n) = n {
                names.0.push(n.clone());
            }
        }
        for (dims, n) in &inputs {
            let _ = dims;
            if let Some(n) = n {
                names.0.push(n.clone());
            }
        }
        let layers: Vec<Slot> = layers
            .into_iter()
            .map(|(layer, name)| {
                let given = name.is_some();
                let name = name.unwrap_or_else(|| names.fresh(layer.kind()));
                Slot { layer, name, given }
            })
            .collect();
        let inputs = inputs
            .into_iter()
            .map(|(dims, name)| GraphInput {
                given: name.is_some(),
                name: name.unwrap_or_else(|| names.fresh("input_layer")),
                dims,
                ids: None,
            })
            .collect();
        Graph {
            inputs,
            layers,
            applies,
            outputs,
            values,
        }
    }

    /// Checks what can be checked before building (unique names, id inputs) and hands
    /// output activations to the model; done at compile (and when a graph model is made).
    pub(crate) fn prepare(&mut self) -> Result<()> {
        let mut seen: Vec<&str> = Vec::new();
        for name in self
            .layers
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.inputs.iter().map(|i| i.name.as_str()))
        {
            if seen.contains(&name) {
                return Err(Error::Config(format!(
                    "the name '{name}' is used twice in the model; layer names must be unique"
                )));
            }
            seen.push(name);
        }
        self.find_id_inputs()?;
        self.split_output_activations();
        Ok(())
    }

    /// Marks the inputs that feed layers taking ids (all their readers must take ids).
    fn find_id_inputs(&mut self) -> Result<()> {
        for i in &mut self.inputs {
            i.ids = None;
        }
        for a in &self.applies {
            let slot = &self.layers[a.layer];
            let Accepts::Ids { vocab } = slot.layer.accepts() else {
                continue;
            };
            for &v in &a.inputs {
                if v >= self.inputs.len() {
                    return Err(Error::Config(format!(
                        "layer '{}' ({}) takes token ids: feed it from an Input",
                        slot.name,
                        slot.layer.kind()
                    )));
                }
                let ids = self.inputs[v].ids.get_or_insert(vocab);
                *ids = (*ids).min(vocab);
            }
        }
        for a in &self.applies {
            let slot = &self.layers[a.layer];
            if slot.layer.accepts() == Accepts::Values
                && let Some(&v) = a
                    .inputs
                    .iter()
                    .find(|&&v| v < self.inputs.len() && self.inputs[v].ids.is_some())
            {
                return Err(Error::Config(format!(
                    "input '{}' feeds both token-id layers and layer '{}' ({}), which takes values; give it its own Input",
                    self.inputs[v].name,
                    slot.name,
                    slot.layer.kind()
                )));
            }
        }
        Ok(())
    }

    /// A model output's softmax or sigmoid moves from its layer to the model (when the layer
    /// is applied once), so a crossentropy on it can be computed from logits.
    fn split_output_activations(&mut self) {
        for &out in &self.outputs.clone() {
            let Some(a) = self.applies.iter().position(|a| a.outputs.contains(&out)) else {
                continue;
            };
            let layer = self.applies[a].layer;
            if self.applies.iter().filter(|x| x.layer == layer).count() == 1
                && self.applies[a].outputs.len() == 1
                && self.applies[a].activation.is_none()
            {
                self.applies[a].activation = self.layers[layer].layer.split_activation();
            }
        }
    }

    /// The name errors about input `v`'s data use: the input's own when the user gave one,
    /// else (as Keras) that of the first layer reading it.
    pub(crate) fn input_label(&self, v: usize) -> String {
        let input = &self.inputs[v];
        if input.given {
            return input.name.clone();
        }
        self.applies
            .iter()
            .find(|a| a.inputs.contains(&v))
            .map_or_else(|| input.name.clone(), |a| self.layers[a.layer].name.clone())
    }

    /// The application producing value `v` (`None` for an input).
    pub(crate) fn producer(&self, v: usize) -> Option<&Apply> {
        self.applies.iter().find(|a| a.outputs.contains(&v))
    }

    /// The name of each output: its layer's name (with a suffix when a layer gives two).
    pub(crate) fn output_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for &o in &self.outputs {
            let base = match self.producer(o) {
                Some(a) => self.layers[a.layer].name.clone(),
                None => self
                    .inputs
                    .get(o)
                    .map_or_else(String::new, |i| i.name.clone()),
            };
            let mut name = base.clone();
            let mut k = 1;
            while names.contains(&name) {
                name = format!("{base}_{k}");
                k += 1;
            }
            names.push(name);
        }
        names
    }
}

/// Keras-like unique names: the kind, then `kind_1`, `kind_2`...
#[derive(Default)]
struct Names(Vec<String>);

impl Names {
    fn fresh(&mut self, kind: &str) -> String {
        let mut name = kind.to_string();
        let mut k = 1;
        while self.0.contains(&name) {
            name = format!("{kind}_{k}");
            k += 1;
        }
        self.0.push(name.clone());
        name
    }
}

impl Graph {
    /// True for a chain of one input through every layer in order (a `Sequential`).
    pub(crate) fn is_chain(&self) -> bool {
        self.inputs.len() == 1
            && self
                .applies
                .iter()
                .enumerate()
                .all(|(i, a)| a.layer == i && a.inputs == [i] && a.outputs == [i + 1])
    }
}
