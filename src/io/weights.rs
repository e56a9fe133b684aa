//! `save_weights` / `load_weights` in safetensors, with Keras's layouts and wgfit's names
//! `layers.{i}.{kind}.{role}` (e.g. `layers.1.dense.kernel`, shaped `[in, units]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::model::Sequential;

fn file_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Data(format!("weights file {}: {what}", path.display()))
}

impl Sequential {
    /// Writes every weight to a safetensors file (through a temporary file and a rename, so
    /// an interrupted save leaves any previous file intact).
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let weights = self.get_weights()?;
        if weights.is_empty() {
            return Err(Error::Config(
                "the model has no weights yet: compile (and build) it before saving".into(),
            ));
        }
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = weights
            .into_iter()
            .map(|(name, w)| {
                let data: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, w.shape().to_vec(), data)
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, shape, data)| {
                Ok((
                    name.clone(),
                    TensorView::new(Dtype::F32, shape.clone(), data)
                        .map_err(|e| file_error(path, e))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut meta = std::collections::HashMap::new();
        meta.insert("format".to_string(), "wgfit".to_string());
        let tmp = path.with_extension("safetensors.tmp");
        safetensors::serialize_to_file(views, Some(meta), &tmp).map_err(|e| file_error(&tmp, e))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    /// Reads weights saved by [`Sequential::save_weights`] (or converted from Keras). Every
    /// name, shape and dtype is checked before anything is replaced; missing or extra tensors
    /// are listed.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let expected: BTreeMap<String, Vec<usize>> = self
            .named_params()
            .into_iter()
            .map(|(n, p)| (n, p.value.dims().to_vec()))
            .collect();
        if expected.is_empty() {
            return Err(Error::Config(
                "the model has no weights yet: compile (and build) it before loading".into(),
            ));
        }
        let buffer = std::fs::read(path)?;
        let file = SafeTensors::deserialize(&buffer)
            .map_err(|e| file_error(path, format!("not a readable safetensors file ({e})")))?;
        let found: BTreeSet<String> = file.names().into_iter().map(str::to_string).collect();
        let wanted: BTreeSet<String> = expected.keys().cloned().collect();
        let missing: Vec<_> = wanted.difference(&found).cloned().collect();
        let extra: Vec<_> = found.difference(&wanted).cloned().collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(file_error(
                path,
                format!("does not fit this model: missing {missing:?}, unexpected {extra:?}"),
            ));
        }
        let mut values = Vec::with_capacity(expected.len());
        for (name, p) in self.named_params() {
            let view = file
                .tensor(&name)
                .map_err(|e| file_error(path, format!("{name}: {e}")))?;
            if view.dtype() != Dtype::F32 {
                return Err(file_error(
                    path,
                    format!("tensor {name} is {:?}; wgfit weights are F32", view.dtype()),
                ));
            }
            if view.shape() != p.value.dims() {
                return Err(file_error(
                    path,
                    format!(
                        "tensor {name} has shape {:?} but this model's is {:?}",
                        view.shape(),
                        p.value.dims()
                    ),
                ));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            values.push((p.value.clone(), data));
        }
        for (tensor, data) in values {
            tensor.write_from_slice(&data)?;
        }
        Ok(())
    }
}
