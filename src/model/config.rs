//! A model's architecture and compile settings as JSON (what a model file's metadata holds),
//! and the model made back from it. Layers are Keras's `{"class_name", "config"}` with the
//! name in the config; the graph is the model's own: its inputs (values `0..n`), each place a
//! layer is applied (`nodes`: value indices in, out) in an order that computes every value
//! before it is read, and the output values.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

mod optimizer;

use optimizer::{optimizer_json, parse_optimizer};

use super::functional::Model;
use super::graph::{Apply, Graph, GraphInput, Slot};
use super::outputs::OutputLoss;
use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::layers::{Dims, LayerConfig};
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;

/// A layer of a file, before it is made: its index, class and config (for checks against the
/// file's weights before anything is built).
pub(crate) struct LayerSpec {
    pub(crate) class_name: String,
    pub(crate) config: LayerConfig,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::Config(what.to_string())
}

impl Model {
    /// The architecture and compile settings as JSON; `step` is the optimizer's step when its
    /// state is saved too. The model must be compiled and built.
    pub(crate) fn config_json(&self, step: Option<u64>) -> Result<Value> {
        let compiled = self.compiled.as_ref().ok_or_else(super::not_compiled)?;
        let built = compiled.built.as_ref().ok_or_else(|| {
            bad("the model has no weights yet: build it (fit, or an input shape) first")
        })?;
        let graph = &self.graph;
        let inputs: Vec<Value> = (graph.inputs.iter().enumerate())
            .map(|(v, i)| json!({"name": i.name, "named": i.given, "shape": built.value_dims[v]}))
            .collect();
        let mut nodes = Vec::new();
        let mut configs: Vec<LayerConfig> = Vec::new();
        for slot in &graph.layers {
            let config = slot.layer.config().map_err(|e| match e {
                Error::Config(m) => bad(format!("layer '{}': {m}", slot.name)),
                other => other,
            })?;
            configs.push(config.with("name", slot.name.clone()));
        }
        for a in &graph.applies {
            // An output's softmax or sigmoid the model took from its layer goes back into the
            // layer's config, as Keras writes it (compile takes it again).
            let once = graph.applies.iter().filter(|b| b.layer == a.layer).count() == 1;
            let config = &mut configs[a.layer].config;
            let mut activation = a.activation.map(Activation::name);
            if once
                && config.get("activation") == Some(&json!("linear"))
                && let Some(act) = activation.take()
            {
                config.insert("activation".into(), act.into());
            }
            nodes.push(
                json!({"layer": a.layer, "inputs": a.inputs, "outputs": a.outputs,
                               "activation": activation}),
            );
        }
        let layers: Vec<Value> = (configs.into_iter().zip(&graph.layers))
            .map(|(c, s)| json!({"class_name": c.class_name, "named": s.given, "config": c.config}))
            .collect();
        let heads: Vec<Value> = (compiled.heads.iter())
            .map(|h| {
                let metrics: Vec<&str> = h.metrics.iter().map(|m| m.name()).collect();
                json!({"name": h.name, "loss": h.loss.name(), "loss_weight": h.weight,
                       "metrics": metrics})
            })
            .collect();
        Ok(json!({
            "class_name": if graph.is_chain() { "Sequential" } else { "Functional" },
            "seed": self.seed,
            "inputs": inputs,
            "layers": layers,
            "nodes": nodes,
            "outputs": graph.outputs,
            "values": graph.values,
            "compile": {"optimizer": optimizer_json(&compiled.optimizer), "outputs": heads},
            "optimizer_step": step,
        }))
    }
}

/// Reading a JSON object field by field, each error naming where it is.
pub(super) struct Obj<'a> {
    at: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(at: impl Into<String>, v: &'a Value) -> Result<Obj<'a>> {
        let at = at.into();
        let map = v
            .as_object()
            .ok_or_else(|| bad(format!("{at} must be a JSON object, got {v}")))?;
        Ok(Obj { at, map })
    }

    pub(super) fn get(&self, key: &str) -> Result<&'a Value> {
        self.map
            .get(key)
            .ok_or_else(|| bad(format!("{} has no '{key}'", self.at)))
    }

    fn wrong(&self, key: &str, what: &str) -> Error {
        let got = self.map.get(key).map_or("nothing".into(), Value::to_string);
        bad(format!("{}: '{key}' must be {what}, got {got}", self.at))
    }

    fn array(&self, key: &str) -> Result<&'a Vec<Value>> {
        self.get(key)?
            .as_array()
            .ok_or_else(|| self.wrong(key, "an array"))
    }

    pub(super) fn string(&self, key: &str) -> Result<&'a str> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| self.wrong(key, "a string"))
    }

    pub(super) fn flag(&self, key: &str) -> Result<bool> {
        self.get(key)?
            .as_bool()
            .ok_or_else(|| self.wrong(key, "true or false"))
    }

    pub(super) fn number(&self, key: &str) -> Result<f64> {
        self.get(key)?
            .as_f64()
            .ok_or_else(|| self.wrong(key, "a number"))
    }

    fn index(&self, key: &str, below: usize) -> Result<usize> {
        let v = self
            .get(key)?
            .as_u64()
            .and_then(|v| usize::try_from(v).ok());
        v.filter(|&v| v < below)
            .ok_or_else(|| self.wrong(key, &format!("an index below {below}")))
    }

    fn indices(&self, key: &str, below: usize) -> Result<Vec<usize>> {
        let list = self.array(key)?;
        let v: Option<Vec<usize>> = list
            .iter()
            .map(|x| x.as_u64().and_then(|v| usize::try_from(v).ok()))
            .map(|x| x.filter(|&x| x < below))
            .collect();
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| self.wrong(key, &format!("a non-empty list of indices below {below}")))
    }
}

/// Dims from JSON (`[null, 10]`), each known dim and their product at most `limit`.
fn dims(o: &Obj<'_>, key: &str, limit: usize) -> Result<Dims> {
    let list = o.array(key)?;
    let mut product: usize = 1;
    let mut out = Vec::with_capacity(list.len().min(16));
    for d in list {
        match d {
            Value::Null => out.push(None),
            _ => {
                let n = d.as_u64().and_then(|n| usize::try_from(n).ok());
                let n = n.ok_or_else(|| o.wrong(key, "a list of sizes or nulls"))?;
                product = product.saturating_mul(n.max(1));
                if product > limit {
                    return Err(o.wrong(key, &format!("dims whose product is at most {limit}")));
                }
                out.push(Some(n));
            }
        }
    }
    if list.len() > 8 {
        return Err(o.wrong(key, "at most 8 dims"));
    }
    Ok(out)
}

/// A model's architecture and compile settings, read back: the uncompiled model (inputs
/// without dims, so compiling does not build it), each input's dims, each layer's spec, the
/// compile settings and the optimizer step saved (if any). Sizes may not pass `limit`.
pub(crate) struct Parsed {
    pub(crate) model: Model,
    pub(crate) input_dims: Vec<Dims>,
    pub(crate) specs: Vec<LayerSpec>,
    pub(crate) optimizer: Optimizer,
    pub(crate) heads: Vec<OutputLoss>,
    pub(crate) step: Option<u64>,
}

pub(crate) fn parse(v: &Value, limit: usize) -> Result<Parsed> {
    let top = Obj::new("the model", v)?;
    let seed = top
        .get("seed")?
        .as_u64()
        .ok_or_else(|| top.wrong("seed", "an integer >= 0"))?;
    let (mut inputs, mut input_dims) = (Vec::new(), Vec::new());
    for (k, i) in top.array("inputs")?.iter().enumerate() {
        let o = Obj::new(format!("input {k}"), i)?;
        input_dims.push(dims(&o, "shape", limit)?);
        inputs.push(GraphInput {
            name: o.string("name")?.to_string(),
            dims: None,
            ids: None,
            given: o.flag("named")?,
        });
    }
    if inputs.is_empty() {
        return Err(bad("the model has no inputs"));
    }
    let (mut layers, mut specs) = (Vec::new(), Vec::new());
    for (k, l) in top.array("layers")?.iter().enumerate() {
        let o = Obj::new(format!("layer {k}"), l)?;
        let class_name = o.string("class_name")?;
        let config = o
            .get("config")?
            .as_object()
            .ok_or_else(|| o.wrong("config", "an object"))?;
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("layer {k} ({class_name}): its config has no name")))?
            .to_string();
        let config = LayerConfig::bounded(class_name, config.clone(), limit);
        let layer = crate::layers::from_config(&config).map_err(|e| match e {
            Error::Config(m) => bad(format!("layer {k} ('{name}'): {m}")),
            other => other,
        })?;
        specs.push(LayerSpec {
            class_name: class_name.to_string(),
            config,
        });
        layers.push(Slot {
            layer,
            name,
            given: o.flag("named")?,
        });
    }
    if layers.is_empty() {
        return Err(bad("the model has no layers"));
    }
    let values = top.index("values", limit.saturating_add(1))?;
    let mut known: Vec<bool> = vec![false; values];
    if inputs.len() > values {
        return Err(top.wrong("values", "at least the number of inputs"));
    }
    known[..inputs.len()].fill(true);
    let mut applies = Vec::new();
    let mut used = HashSet::new();
    for (k, n) in top.array("nodes")?.iter().enumerate() {
        let o = Obj::new(format!("node {k}"), n)?;
        let layer = o.index("layer", layers.len())?;
        let ins = o.indices("inputs", values)?;
        let outs = o.indices("outputs", values)?;
        if let Some(v) = ins.iter().find(|&&v| !known[v]) {
            return Err(bad(format!(
                "node {k} reads value {v} before any node computes it"
            )));
        }
        for &v in &outs {
            if std::mem::replace(&mut known[v], true) {
                return Err(bad(format!("node {k} computes value {v} again")));
            }
        }
        let activation = match o.get("activation")? {
            Value::Null => None,
            _ => Some(
                LayerConfig::bounded("node", o.map.clone(), limit)
                    .activation("activation")
                    .map_err(|e| bad(format!("node {k}: {e}")))?,
            ),
        };
        used.insert(layer);
        applies.push(Apply {
            layer,
            inputs: ins,
            outputs: outs,
            activation,
        });
    }
    if let Some(k) = (0..layers.len()).find(|k| !used.contains(k)) {
        return Err(bad(format!(
            "layer {k} ('{}') is applied nowhere in the graph",
            layers[k].name
        )));
    }
    if known.iter().any(|k| !k) {
        return Err(bad("the graph declares values no node computes"));
    }
    let outputs = top.indices("outputs", values)?;
    let compile = Obj::new("compile", top.get("compile")?)?;
    let optimizer = parse_optimizer(compile.get("optimizer")?)?;
    let mut heads = Vec::new();
    for (k, h) in compile.array("outputs")?.iter().enumerate() {
        let o = Obj::new(format!("compile output {k}"), h)?;
        let loss = o.string("loss")?;
        let loss = [
            Loss::CategoricalCrossentropy,
            Loss::SparseCategoricalCrossentropy,
            Loss::BinaryCrossentropy,
            Loss::MeanSquaredError,
        ]
        .into_iter()
        .find(|l| l.name() == loss)
        .ok_or_else(|| o.wrong("loss", "a loss wgfit has"))?;
        let metrics = (o.array("metrics")?.iter())
            .map(|m| match m.as_str() {
                Some("accuracy") => Ok(Metric::Accuracy),
                _ => Err(o.wrong("metrics", "a list of metrics wgfit has (accuracy)")),
            })
            .collect::<Result<Vec<_>>>()?;
        heads.push(
            OutputLoss::new(o.string("name")?, loss)
                .weight(o.number("loss_weight")? as f32)
                .metrics(&metrics),
        );
    }
    let step = match top.get("optimizer_step")? {
        Value::Null => None,
        s => Some(
            s.as_u64()
                .ok_or_else(|| top.wrong("optimizer_step", "an integer >= 0 or null"))?,
        ),
    };
    let graph = Graph {
        inputs,
        layers,
        applies,
        outputs,
        values,
    };
    Ok(Parsed {
        model: Model::from_graph(graph).seed(seed),
        input_dims,
        specs,
        optimizer,
        heads,
        step,
    })
}
