//! Whole models in one file (`Model::save`, `load_model`): a safetensors container holding the
//! weights (named as `save_weights` names them), the optimizer's state unless left out (named
//! as checkpoints name it), and in its metadata the format, its version and the model's
//! architecture and compile settings as JSON (`model/config.rs`). Written atomically.
//!
//! Loading trusts nothing in the file: the header and JSON are checked before any layer is
//! made, every size in a config is bounded by the file's size, and each built-in layer's
//! weights are checked against its config and input before the layer allocates them.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::SafeTensors;
use serde_json::Value;

use super::file::{file_error, read_bytes, read_checked_bytes, write_atomically};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::layers::Dims;
use crate::model::{LayerSpec, Model, parse_config};

/// The model file format this wgfit writes, and the newest it reads.
pub const MODEL_FORMAT_VERSION: u64 = 1;

impl Model {
    /// Saves the whole model to one file (Keras's `model.save("m.keras")`; wgfit's files
    /// are `.wgfit`): the weights, the architecture (every layer's config and name, the
    /// graph's connections), the compile settings (optimizer and its hyper-parameters, loss,
    /// metrics), and the optimizer's state and step, so [`load_model`] gives back a model
    /// that predicts the same and goes on training as this one would. Written atomically (a
    /// temporary file, synced, then renamed), as checkpoints are.
    ///
    /// Errors: [`Error::Config`] when the model is not compiled or not built yet, or has a
    /// layer that cannot be saved (a layer of your own without
    /// [`Layer::config`](crate::layers::Layer::config)); [`Error::File`], naming the path,
    /// when writing fails.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-save-{}.wgfit", std::process::id()));
    /// let mut model = Sequential::new()
    ///     .add(Dense::new(4).activation(Activation::Relu).input_shape([3]))
    ///     .add(Dense::new(2).activation(Activation::Softmax));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::CategoricalCrossentropy, &[Metric::Accuracy])?;
    /// model.save(&path)?;
    /// let mut loaded = wgfit::load_model(&path, &Device::cpu())?;
    /// let x = ndarray::Array2::<f32>::ones((5, 3));
    /// assert_eq!(loaded.predict(&x)?, model.predict(&x)?);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_model(path.as_ref(), true, Vec::new())
    }

    /// [`save`](Model::save) without the optimizer's state (Keras's
    /// `include_optimizer=False`): a smaller file for inference; a model loaded from it
    /// trains on with fresh optimizer state.
    pub fn save_without_optimizer(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_model(path.as_ref(), false, Vec::new())
    }

    /// The model file, with `extra` metadata entries beside the model's (a `TextModel`'s
    /// vectorizer).
    pub(crate) fn save_model(
        &self,
        path: &Path,
        optimizer: bool,
        extra: Vec<(String, String)>,
    ) -> Result<()> {
        let (tensors, step) = if optimizer {
            let (tensors, _, step) = self.checkpoint_tensors()?;
            (tensors, Some(step))
        } else {
            (self.get_weights()?, None)
        };
        let json = self.config_json(step)?;
        let mut meta: HashMap<String, String> = extra.into_iter().collect();
        meta.extend([
            ("format".to_string(), "wgfit-model".to_string()),
            (
                "format_version".to_string(),
                MODEL_FORMAT_VERSION.to_string(),
            ),
            ("model".to_string(), json.to_string()),
        ]);
        write_atomically(path, &tensors, meta)
    }
}

/// A model's error while loading `path`: a config problem becomes the file's.
fn in_file(path: &Path, e: Error) -> Error {
    match e {
        Error::Config(m) => file_error(path, m),
        other => other,
    }
}

/// Loads a model saved by [`Model::save`] onto `device` (Keras's
/// `keras.saving.load_model`): the same layers, names, weights and compile settings, built
/// and compiled, ready to predict, evaluate or go on training (from the saved optimizer state
/// when the file has it). Layers of your own load once their class is registered
/// ([`register_layer`](crate::register_layer)).
///
/// Errors, each an [`Error::File`] naming the path and what is wrong: the file is missing,
/// truncated or not safetensors; it is not a wgfit model file (weights only, a checkpoint);
/// it was written by a newer wgfit (its format version); its architecture is not valid JSON or
/// not a valid graph; a layer class is unknown (named); a config disagrees with the weights
/// (the tensor is named) or asks for sizes its file cannot hold. Nothing is allocated for a
/// layer's weights before they are checked against the file.
///
/// ```
/// use wgfit::prelude::*;
/// let path = std::env::temp_dir().join(format!("wgfit-doc-bad-{}.wgfit", std::process::id()));
/// std::fs::write(&path, b"not a model")?;
/// assert!(matches!(wgfit::load_model(&path, &Device::cpu()), Err(Error::File { .. })));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn load_model(path: impl AsRef<Path>, device: &Device) -> Result<Model> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let unreadable = |e| file_error(path, format!("not a readable safetensors file ({e})"));
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(unreadable)?;
    let file = SafeTensors::deserialize(&bytes).map_err(unreadable)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let json = model_json(path, &meta)?;
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    for (name, view) in file.tensors() {
        shapes.insert(name, view.shape().to_vec());
    }
    // No size in the file may ask for more than the file holds.
    let limit = bytes.len();
    let parsed = parse_config(&json, limit).map_err(|e| in_file(path, e))?;
    let mut model = parsed.model;
    // Compiled without input dims, so the build below is the checked one.
    model
        .compile_outputs(device, parsed.optimizer, &parsed.heads)
        .map_err(|e| in_file(path, e))?;
    let kinds: Vec<&'static str> = model.graph.layers.iter().map(|s| s.layer.kind()).collect();
    let specs = &parsed.specs;
    let guard =
        |i: usize, inputs: &[Dims]| check_layer(path, (i, kinds[i]), &specs[i], inputs, &shapes);
    model
        .build_guarded(&parsed.input_dims, &guard)
        .map_err(|e| in_file(path, e))?;
    for (input, dims) in model.graph.inputs.iter_mut().zip(parsed.input_dims) {
        input.dims = Some(dims);
    }
    let mut expected: Vec<(String, Vec<usize>)> = (model.named_weights().into_iter())
        .map(|(n, p)| (n, p.value.dims().to_vec()))
        .collect();
    if parsed.step.is_some() {
        expected.extend(model.slot_shapes()?);
    }
    let (values, _) = read_checked_bytes(path, &bytes, &expected)?;
    model.restore(&values, parsed.step)?;
    Ok(model)
}

/// The architecture JSON of a model file, after its format and version are checked.
fn model_json(path: &Path, meta: &HashMap<String, String>) -> Result<Value> {
    match meta.get("format").map(String::as_str) {
        Some("wgfit-model") => {}
        Some("wgfit") => {
            return Err(file_error(
                path,
                "holds weights only (Model::save_weights): load them with load_weights into the \
                 model built in code, or save the whole model with Model::save",
            ));
        }
        Some("wgfit-checkpoint") => {
            return Err(file_error(
                path,
                "is a training checkpoint (save_checkpoint), not a model file: resume it with \
                 load_checkpoint, or save the whole model with Model::save",
            ));
        }
        _ => {
            return Err(file_error(
                path,
                "is not a wgfit model file (its metadata has no format \"wgfit-model\")",
            ));
        }
    }
    let version = meta
        .get("format_version")
        .and_then(|v| v.parse::<u64>().ok());
    match version {
        Some(v) if (1..=MODEL_FORMAT_VERSION).contains(&v) => {}
        Some(v) if v > MODEL_FORMAT_VERSION => {
            return Err(file_error(
                path,
                format!(
                    "was written by a newer wgfit (model format version {v}; this wgfit reads \
                     versions up to {MODEL_FORMAT_VERSION}): update wgfit to load it"
                ),
            ));
        }
        _ => {
            return Err(file_error(
                path,
                format!(
                    "has no valid model format version ({:?})",
                    meta.get("format_version")
                ),
            ));
        }
    }
    let text = meta
        .get("model")
        .ok_or_else(|| file_error(path, "has no model architecture in its metadata"))?;
    serde_json::from_str(text).map_err(|e| {
        file_error(
            path,
            format!("its model architecture is not valid JSON ({e})"),
        )
    })
}

/// Before built-in layer `i` makes its weights: the file holds them, shaped as its config and
/// its input say (a layer of your own is bounded by its config's sizes only).
fn check_layer(
    path: &Path,
    (i, kind): (usize, &str),
    spec: &LayerSpec,
    inputs: &[Dims],
    shapes: &HashMap<String, Vec<usize>>,
) -> Result<()> {
    let c = &spec.config;
    let features = inputs.first().and_then(|d| d.last().copied().flatten());
    let tensor = |role: &str| -> Result<(String, &Vec<usize>)> {
        let name = format!("layers.{i}.{kind}.{role}");
        match shapes.get(&name) {
            Some(s) => Ok((name, s)),
            None => Err(file_error(
                path,
                format!(
                    "layer {i} ({}) has no tensor {name} in the file: the config disagrees with \
                     the weights",
                    spec.class_name
                ),
            )),
        }
    };
    let disagree = |name: String, shape: &Vec<usize>, wanted: Vec<Option<usize>>| Error::File {
        path: path.to_path_buf(),
        tensor: Some(name.clone()),
        problem: format!(
            "the config disagrees with the weights: layer {i} ({}) needs {name} shaped {}, the \
             file's is {shape:?}",
            spec.class_name,
            crate::error::fmt_dims(&wanted)
        ),
    };
    // The kernel `[F, G·U]` and, for a recurrent layer, the recurrent kernel `[U, G·U]`: the
    // units a layer allocates for are then paid for by the file's own bytes (U² of them).
    let kernel = |config: &crate::layers::LayerConfig, prefix: &str| -> Result<()> {
        let gates = match config.class_name.as_str() {
            "LSTM" => 4,
            "GRU" => 3,
            _ => 1,
        };
        let units = config.size("units")?;
        let (name, shape) = tensor(&format!("{prefix}kernel"))?;
        let wanted = vec![features, units.checked_mul(gates)];
        let fits = shape.len() == 2
            && features.is_none_or(|f| f == shape[0])
            && wanted[1] == Some(shape[1]);
        if !fits {
            return Err(disagree(name, shape, wanted));
        }
        if config.class_name == "Dense" {
            return Ok(());
        }
        let (name, shape) = tensor(&format!("{prefix}recurrent_kernel"))?;
        let wanted = vec![Some(units), units.checked_mul(gates)];
        if shape.iter().map(|&d| Some(d)).eq(wanted.iter().copied()) {
            Ok(())
        } else {
            Err(disagree(name, shape, wanted))
        }
    };
    match spec.class_name.as_str() {
        "Dense" | "LSTM" | "GRU" | "SimpleRNN" => kernel(c, ""),
        "Bidirectional" => {
            let layer = c.nested("layer")?;
            kernel(&layer, "forward.")?;
            kernel(&layer, "backward.")
        }
        "Embedding" => {
            let (name, shape) = tensor("embeddings")?;
            let wanted = vec![Some(c.size("input_dim")?), Some(c.size("output_dim")?)];
            if shape.iter().map(|&d| Some(d)).eq(wanted.iter().copied()) {
                Ok(())
            } else {
                Err(disagree(name, shape, wanted))
            }
        }
        "Normalization" => {
            let (name, shape) = tensor("mean")?;
            let wanted = match c.int_or_null("axis")? {
                Some(_) => vec![features],
                None => vec![],
            };
            let fits = shape.len() == wanted.len()
                && wanted
                    .iter()
                    .zip(shape)
                    .all(|(w, &s)| w.is_none_or(|w| w == s));
            if fits {
                Ok(())
            } else {
                Err(disagree(name, shape, wanted))
            }
        }
        _ => Ok(()),
    }
}
