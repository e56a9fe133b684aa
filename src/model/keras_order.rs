//! Keras's order of `model.layers`, which names weights (`layers.{i}...`) and orders
//! `get_weights`. Keras (`keras/src/ops/function.py`, `map_graph`) walks the graph depth
//! first from the outputs, each node's inputs in order (data, then a mask argument), numbering
//! each operation when first reached; an operation's depth is its longest path to an output
//! (a shared layer's, the largest over its calls); layers sort by decreasing depth, ties by
//! that number. The ops Keras traces to compute masks are operations of its graph too, so
//! they are modelled here from each layer's [`MaskFlow`].

use std::collections::{HashMap, HashSet};

use super::graph::{Apply, Graph, GraphInput, Slot};
use super::node::LayerEntry;
use crate::layers::Dims;
use crate::layers::MaskFlow;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Input(usize),
    Layer(usize),
    /// One traced mask op (each its own operation).
    Mask(usize),
}

/// Keras's graph: nodes with their operation and the nodes they read, in order.
#[derive(Default)]
struct Shadow {
    nodes: Vec<(Op, Vec<usize>)>,
}

impl Shadow {
    fn add(&mut self, op: Op, parents: Vec<usize>) -> usize {
        self.nodes.push((op, parents));
        self.nodes.len() - 1
    }

    fn mask_op(&mut self, parents: Vec<usize>) -> usize {
        let id = self.nodes.len();
        self.add(Op::Mask(id), parents)
    }
}

/// The permutation putting `graph.layers` in Keras's order: `order[i]` is the current index
/// of the layer that goes to place `i`.
pub(crate) fn keras_order(graph: &Graph) -> Vec<usize> {
    let mut g = Shadow::default();
    let mut value = vec![usize::MAX; graph.values];
    let mut mask: Vec<Option<usize>> = vec![None; graph.values];
    for (v, node) in value.iter_mut().enumerate().take(graph.inputs.len()) {
        *node = g.add(Op::Input(v), Vec::new());
    }
    for a in &graph.applies {
        let flow = graph.layers[a.layer].layer.mask_flow();
        let first = a.inputs.first().copied();
        let mut parents: Vec<usize> = a.inputs.iter().map(|&v| value[v]).collect();
        if let (MaskFlow::Reads { .. }, Some(m)) = (flow, first.and_then(|v| mask[v])) {
            parents.push(m);
        }
        let node = g.add(Op::Layer(a.layer), parents);
        let input_mask = first.and_then(|v| mask[v]);
        let out_mask = match flow {
            MaskFlow::Passes => input_mask,
            MaskFlow::Reads { keeps } => input_mask.filter(|_| keeps),
            MaskFlow::Drops => None,
            MaskFlow::Makes { ops } => first.map(|v| {
                let mut m = g.mask_op(vec![value[v]]);
                for _ in 1..ops {
                    m = g.mask_op(vec![m]);
                }
                m
            }),
            MaskFlow::Merges { concatenate: false } => {
                let masks: Option<Vec<usize>> = a.inputs.iter().map(|&v| mask[v]).collect();
                masks.map(|ms| ms[1..].iter().fold(ms[0], |or, &m| g.mask_op(vec![or, m])))
            }
            MaskFlow::Merges { concatenate: true } => {
                if a.inputs.iter().all(|&v| mask[v].is_none()) {
                    None
                } else {
                    // Each input: expand_dims(mask) | zeros_like(x), or ones_like(x)
                    // unmasked; then concatenate and any.
                    let pieces: Vec<usize> = a
                        .inputs
                        .iter()
                        .map(|&v| match mask[v] {
                            Some(m) => {
                                let expanded = g.mask_op(vec![m]);
                                let zeros = g.mask_op(vec![value[v]]);
                                g.mask_op(vec![expanded, zeros])
                            }
                            None => g.mask_op(vec![value[v]]),
                        })
                        .collect();
                    let joined = g.mask_op(pieces);
                    Some(g.mask_op(vec![joined]))
                }
            }
        };
        for &v in &a.outputs {
            value[v] = node;
            mask[v] = out_mask;
        }
    }
    // Depth-first from the outputs: post-order, and operations numbered when first reached.
    let mut post = Vec::new();
    let mut first_seen: HashMap<Op, usize> = HashMap::new();
    let mut done = HashSet::new();
    fn visit(
        g: &Shadow,
        n: usize,
        post: &mut Vec<usize>,
        seen: &mut HashMap<Op, usize>,
        done: &mut HashSet<usize>,
    ) {
        if done.contains(&n) {
            return;
        }
        let next = seen.len();
        seen.entry(g.nodes[n].0).or_insert(next);
        for &p in &g.nodes[n].1 {
            visit(g, p, post, seen, done);
        }
        done.insert(n);
        post.push(n);
    }
    for &o in &graph.outputs {
        visit(&g, value[o], &mut post, &mut first_seen, &mut done);
    }
    let mut node_depth: HashMap<usize, usize> = HashMap::new();
    let mut op_depth: HashMap<Op, usize> = HashMap::new();
    for &n in post.iter().rev() {
        let op = g.nodes[n].0;
        let depth = node_depth
            .get(&n)
            .copied()
            .unwrap_or(0)
            .max(op_depth.get(&op).copied().unwrap_or(0));
        op_depth.insert(op, depth);
        node_depth.insert(n, depth);
        for &p in &g.nodes[n].1 {
            let d = node_depth.entry(p).or_insert(0);
            *d = (*d).max(depth + 1);
        }
    }
    let mut layers: Vec<(usize, usize, usize)> = (0..graph.layers.len())
        .map(|l| {
            let op = Op::Layer(l);
            (
                l,
                op_depth.get(&op).copied().unwrap_or(0),
                first_seen.get(&op).copied().unwrap_or(usize::MAX),
            )
        })
        .collect();
    layers.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    layers.into_iter().map(|(l, _, _)| l).collect()
}

/// The layers permuted into Keras's order, the applications renumbered to match.
pub(crate) fn in_keras_order(
    layers: Vec<LayerEntry>,
    applies: Vec<Apply>,
    inputs: &[(Option<Dims>, Option<String>)],
    outputs: &[usize],
    values: usize,
) -> (Vec<LayerEntry>, Vec<Apply>) {
    let probe = Graph {
        inputs: inputs
            .iter()
            .map(|_| GraphInput {
                name: String::new(),
                dims: None,
                ids: None,
                given: false,
            })
            .collect(),
        layers: layers
            .into_iter()
            .map(|(layer, name)| Slot {
                layer,
                given: name.is_some(),
                name: name.unwrap_or_default(),
            })
            .collect(),
        applies,
        outputs: outputs.to_vec(),
        values,
    };
    let order = keras_order(&probe);
    let mut place = vec![0; order.len()];
    for (to, &from) in order.iter().enumerate() {
        place[from] = to;
    }
    let Graph {
        layers,
        mut applies,
        ..
    } = probe;
    let mut slots: Vec<Option<Slot>> = layers.into_iter().map(Some).collect();
    let layers = order
        .iter()
        .map(|&from| {
            let s = slots[from].take().expect("a permutation");
            (s.layer, s.given.then_some(s.name))
        })
        .collect();
    for a in &mut applies {
        a.layer = place[a.layer];
    }
    (layers, applies)
}
