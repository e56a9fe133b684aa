//! `Graph::from_nodes`: the functional API's nodes traced from the outputs back to the
//! inputs, each layer application found once, into a [`Graph`](super::Graph).

use std::collections::HashMap;
use std::rc::Rc;

use super::super::node::{CallSite, LayerCell, LayerEntry, Node, NodeKind};
use super::{Apply, Graph};
use crate::error::{Error, Result};

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
}
