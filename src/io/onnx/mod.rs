//! ONNX export for inference (`Model::export_onnx`): the model's graph as ONNX operators
//! (opset [`ONNX_OPSET`]) with its weights as initializers, batch and time axes dynamic, so
//! onnxruntime (or any ONNX runtime) predicts what wgfit predicts. `proto` declares the
//! protobuf messages, `builder` makes nodes, `layers` and `recurrent` translate each layer.

mod builder;
mod layers;
mod proto;
mod recurrent;

use std::collections::HashMap;
use std::path::Path;

use builder::Builder;
use prost::Message;
use proto::{
    Dimension, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto,
    TypeProtoTensor, ValueInfoProto, data_type,
};

use super::file::file_error;
use crate::error::{Error, Result};
use crate::layers::{Dims, LayerConfig};
use crate::model::Model;

/// The ONNX operator set exported models use. 17 (ONNX 1.12, 2022): every op here has had
/// its current form since 14 (LSTM/GRU/RNN) or 13 (Squeeze/Unsqueeze axes as inputs,
/// Softmax over one axis), and onnxruntime has run opset 17 since 1.12, so older runtimes
/// still load the files; 18 would only move ReduceMax's axes into an input.
pub const ONNX_OPSET: i64 = 17;

/// IR version 8 is the one ONNX 1.12 pairs with opset 17.
const IR_VERSION: i64 = 8;

/// A value of the model in the ONNX graph: its name, its Keras mask (`[B, T]` floats, 1 =
/// kept) if it carries one, and its dims without the batch axis.
#[derive(Clone)]
pub(super) struct Sym {
    pub(super) name: String,
    pub(super) mask: Option<String>,
    pub(super) dims: Dims,
}

/// Layer `index` of the model, as errors name it.
pub(super) struct Named<'a> {
    pub(super) index: usize,
    pub(super) name: &'a str,
    pub(super) config: &'a LayerConfig,
    /// The model's weights by name (`layers.{i}.{kind}.{role}`).
    pub(super) weights: &'a HashMap<String, ndarray::ArrayD<f32>>,
    pub(super) kind: &'static str,
}

impl Named<'_> {
    /// "layer 3 ('lstm_1', LSTM) cannot be exported to ONNX: {why}".
    pub(super) fn unsupported(&self, why: impl std::fmt::Display) -> Error {
        Error::Config(format!(
            "layer {} ('{}', {}) cannot be exported to ONNX: {why}",
            self.index, self.name, self.config.class_name
        ))
    }

    /// Its weight `role` (`kernel`, `forward.bias`, ...).
    pub(super) fn weight(&self, role: &str) -> Result<&ndarray::ArrayD<f32>> {
        let name = format!("layers.{}.{}.{role}", self.index, self.kind);
        self.weights
            .get(&name)
            .ok_or_else(|| self.unsupported(format!("it has no weight {name}")))
    }
}

impl Model {
    /// Exports the model for inference as an ONNX file (opset [`ONNX_OPSET`]), to run in
    /// onnxruntime or any ONNX runtime: Dense, Embedding, Masking, Flatten, Dropout and
    /// SpatialDropout1D (identities), Normalization, the merges, and LSTM, GRU, SimpleRNN and
    /// Bidirectional through ONNX's LSTM / GRU / RNN operators (states in and out included).
    /// Inputs keep their names (token-id inputs are `int64`, others `float`); outputs are
    /// `output_0`, `output_1`, ... in the model's order. The batch axis is named `batch` and an
    /// unsized time axis `time` (`{input}_time` with several inputs), so any batch size and
    /// sequence length run.
    ///
    /// Masks become each recurrent layer's `sequence_lens` (the number of kept steps per
    /// sample): exact when the kept steps come first, that is **post-padded** sequences
    /// (`pad_sequences` with `Padding::Post`). Pre-padded input (wgfit's and Keras's default
    /// padding) must be padded after instead before it is fed to the exported model; the
    /// model cannot tell, and its outputs would differ from wgfit's.
    ///
    /// Errors: [`Error::Config`] when the model is not built yet (fit, predict or an input
    /// shape first) or has a layer ONNX export does not know (a layer of your own, named);
    /// [`Error::File`] naming the path when writing fails.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-{}.onnx", std::process::id()));
    /// let mut model = Sequential::new()
    ///     .add(Masking::new(0.0).input_shape([None, Some(3)]))
    ///     .add(Lstm::new(4))
    ///     .add(Dense::new(2).activation(Activation::Softmax));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::CategoricalCrossentropy, &[])?;
    /// model.export_onnx(&path)?;
    /// assert!(std::fs::metadata(&path)?.len() > 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn export_onnx(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.onnx_model()?.encode_to_vec();
        std::fs::write(path, bytes).map_err(|e| file_error(path, format!("cannot be written: {e}")))
    }

    fn onnx_model(&self) -> Result<ModelProto> {
        let built = (self.compiled.as_ref())
            .and_then(|c| c.built.as_ref())
            .ok_or_else(|| {
                Error::Config(
                    "export_onnx: the model has no weights yet: compile and build it (fit, \
                     predict, or an input shape) first"
                        .into(),
                )
            })?;
        let graph = &self.graph;
        let weights: HashMap<String, ndarray::ArrayD<f32>> =
            self.get_weights()?.into_iter().collect();
        let mut b = Builder::default();
        let mut values: Vec<Option<Sym>> = vec![None; graph.values];
        let mut inputs = Vec::new();
        for (v, input) in graph.inputs.iter().enumerate() {
            let dims = built.value_dims[v].clone();
            let elem = if input.ids.is_some() {
                data_type::INT64
            } else {
                data_type::FLOAT
            };
            let time = match graph.inputs.len() {
                1 => "time".to_string(),
                _ => format!("{}_time", input.name),
            };
            inputs.push(value_info(&input.name, elem, &dims, Some(&time)));
            values[v] = Some(Sym {
                name: input.name.clone(),
                mask: None,
                dims,
            });
        }
        for apply in &graph.applies {
            let slot = &graph.layers[apply.layer];
            let config = slot.layer.config().map_err(|e| match e {
                Error::Config(m) => Error::Config(format!(
                    "layer {} ('{}') cannot be exported to ONNX: {m}",
                    apply.layer, slot.name
                )),
                other => other,
            })?;
            let layer = Named {
                index: apply.layer,
                name: &slot.name,
                config: &config,
                weights: &weights,
                kind: slot.layer.kind(),
            };
            let ins: Vec<Sym> = (apply.inputs.iter())
                .map(|&v| values[v].clone().expect("values are computed in order"))
                .collect();
            let mut outs = layers::export(&mut b, &layer, &ins, apply.outputs.len())?;
            if let Some(act) = apply.activation {
                outs[0].name = layers::activation(&mut b, &outs[0].name, act.name());
            }
            for (&v, mut sym) in apply.outputs.iter().zip(outs) {
                sym.dims = built.value_dims[v].clone();
                values[v] = Some(sym);
            }
        }
        let mut outputs = Vec::new();
        for (k, &v) in graph.outputs.iter().enumerate() {
            let sym = values[v].as_ref().expect("outputs are computed");
            let name = format!("output_{k}");
            b.nodes.push(proto::NodeProto {
                input: vec![sym.name.clone()],
                output: vec![name.clone()],
                name: format!("{name}_identity"),
                op_type: "Identity".into(),
                attribute: vec![],
            });
            let time = (graph.inputs.len() == 1).then_some("time");
            outputs.push(value_info(&name, data_type::FLOAT, &sym.dims, time));
        }
        Ok(ModelProto {
            ir_version: IR_VERSION,
            producer_name: "wgfit".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            graph: Some(GraphProto {
                node: b.nodes,
                name: "wgfit".into(),
                initializer: b.initializers,
                input: inputs,
                output: outputs,
            }),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: ONNX_OPSET,
            }],
        })
    }
}

/// A graph input's or output's type: `[batch, dims...]`, the first unsized dim after the
/// batch named `time` (or left unnamed when `time` is `None`), any other `{name}_dim{k}`.
/// Inputs of different lengths need different names: a name shared by two inputs would
/// promise the runtime equal lengths.
fn value_info(name: &str, elem_type: i32, dims: &Dims, time: Option<&str>) -> ValueInfoProto {
    let named = |s: String| Dimension {
        dim_value: None,
        dim_param: Some(s),
    };
    let mut dim = vec![named("batch".into())];
    for (k, d) in dims.iter().enumerate() {
        dim.push(match (d, time) {
            (Some(n), _) => Dimension {
                dim_value: Some(*n as i64),
                dim_param: None,
            },
            (None, Some(t)) if k == 0 => named(t.into()),
            (None, Some(_)) => named(format!("{name}_dim{}", k + 1)),
            (None, None) => Dimension::default(),
        });
    }
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}
