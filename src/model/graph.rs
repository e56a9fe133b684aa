//! A model's graph, owned: its inputs, its layers in Keras's `model.layers` order, the places
//! each layer is applied (in an order that computes every value before it is read), and its
//! outputs. Made from nodes by `Graph::from_nodes` (the functional API) or `Graph::chain`
//! (a `Sequential`).

use std::collections::HashMap;
use std::rc::Rc;

use super::node::{CallSite, LayerCell, LayerEntry, Node, NodeKind};
use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::layers::{Accepts, Dims, Layer};

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

/// Keras's identity of a graph node: an input node, or one application of a layer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Input(*const NodeKind),
    Apply(*const CallSite),
}

/// The graph's nodes found from the outputs back, depth first.
struct Walk {
    /// Nodes in post-order (every node after the nodes it reads).
    order: Vec<(Key, Node)>,
    done: std::collections::HashSet<Key>,
}

fn key_of(node: &Node) -> Key {
    match &*node.0 {
        NodeKind::Input { .. } => Key::Input(Rc::as_ptr(&node.0)),
        NodeKind::Output { call, .. } => Key::Apply(Rc::as_ptr(call)),
    }
}

/// Which output of its application a node is (0 for an input).
fn index_of(node: &Node) -> usize {
    match &*node.0 {
        NodeKind::Input { .. } => 0,
        NodeKind::Output { index, .. } => *index,
    }
}

impl Walk {
    fn visit(&mut self, node: &Node) {
        let key = key_of(node);
        if self.done.contains(&key) {
            return;
        }
        if let NodeKind::Output { call, .. } = &*node.0 {
            for input in &call.inputs {
                self.visit(input);
            }
        }
        self.done.insert(key);
        self.order.push((key, node.clone()));
    }
}

impl Graph {
    /// The graph from `inputs` to `outputs`, with its layers taken from the nodes (each layer
    /// joins one model), in Keras's order of `model.layers` (`keras_order.rs`).
    pub(crate) fn from_nodes(inputs: &[Node], outputs: &[Node]) -> Result<Graph> {
        if inputs.is_empty() || outputs.is_empty() {
            return Err(Error::Config(
                "a model needs at least one input and one output".into(),
            ));
        }
        let mut walk = Walk {
            order: Vec::new(),
            done: Default::default(),
        };
        for out in outputs {
            walk.visit(out);
        }
        for (key, node) in &walk.order {
            if let (Key::Input(_), NodeKind::Input { .. }) = (key, &*node.0)
                && !inputs.iter().any(|i| i.same(node))
            {
                return Err(Error::Config(
                    "graph disconnected: the outputs read an Input that is not among the model's inputs".into(),
                ));
            }
        }
        for (i, input) in inputs.iter().enumerate() {
            if !matches!(&*input.0, NodeKind::Input { .. }) {
                return Err(Error::Config(format!(
                    "model input {i} is a layer's output, not an Input node"
                )));
            }
        }
        // The layers, each once, as first met (put in Keras's order when assembled).
        let mut cells: Vec<LayerCell> = Vec::new();
        for (_, node) in &walk.order {
            if let NodeKind::Output { call, .. } = &*node.0
                && !cells.iter().any(|c| Rc::ptr_eq(c, &call.layer))
            {
                cells.push(call.layer.clone());
            }
        }
        if cells.is_empty() {
            return Err(Error::Config(
                "a model needs at least one layer between its inputs and outputs".into(),
            ));
        }
        if cells.iter().any(|c| c.borrow().is_none()) {
            return Err(Error::Config(
                "a layer of this graph already belongs to another model".into(),
            ));
        }
        let layers: Vec<LayerEntry> = cells
            .iter()
            .map(|c| c.borrow_mut().take().expect("checked above"))
            .collect();
        let layer_of = |call: &CallSite| {
            cells
                .iter()
                .position(|c| Rc::ptr_eq(c, &call.layer))
                .expect("every layer was collected")
        };
        // How many outputs of each application the graph reads: outputs 0..=the last read.
        let mut width: HashMap<Key, usize> = HashMap::new();
        let reads = outputs
            .iter()
            .chain(walk.order.iter().flat_map(|(_, n)| match &*n.0 {
                NodeKind::Output { call, .. } => call.inputs.as_slice(),
                NodeKind::Input { .. } => &[],
            }));
        for node in reads {
            let w = width.entry(key_of(node)).or_insert(1);
            *w = (*w).max(index_of(node) + 1);
        }
        // Values: the inputs first, then each application's outputs in post-order.
        let mut value_of: HashMap<Key, usize> = HashMap::new();
        for (i, input) in inputs.iter().enumerate() {
            value_of.insert(key_of(input), i);
        }
        let mut values = inputs.len();
        let mut applies = Vec::new();
        for (key, node) in &walk.order {
            let NodeKind::Output { call, .. } = &*node.0 else {
                continue;
            };
            let inputs = call
                .inputs
                .iter()
                .map(|n| value_of[&key_of(n)] + index_of(n))
                .collect();
            value_of.insert(*key, values);
            let n = width.get(key).copied().unwrap_or(1);
            applies.push(Apply {
                layer: layer_of(call),
                inputs,
                outputs: (values..values + n).collect(),
                activation: None,
            });
            values += n;
        }
        let outputs = outputs
            .iter()
            .map(|o| value_of[&key_of(o)] + index_of(o))
            .collect();
        let inputs = inputs
            .iter()
            .map(|n| match &*n.0 {
                NodeKind::Input { dims, name } => (Some(dims.clone()), name.clone()),
                NodeKind::Output { .. } => unreachable!("checked above"),
            })
            .collect();
        let mut graph = Graph::assemble(inputs, layers, applies, outputs, values);
        graph.prepare()?;
        Ok(graph)
    }

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
