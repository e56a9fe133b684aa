//! `save_weights` / `load_weights` in safetensors, with Keras's layouts and wgfit's names
//! `layers.{i}.{kind}.{role}` (e.g. `layers.1.dense.kernel`, shaped `[in, units]`).

use std::collections::HashMap;
use std::path::Path;

use super::file::{read_checked, write_atomically};
use crate::error::{Error, Result};
use crate::model::Model;

fn no_weights() -> Error {
    Error::Config(
        "the model has no weights yet: they are made at compile when every input shape is \
         declared (Input dims, or input_shape on a Sequential), else at the first data the \
         model sees; declare the input shape, or run data through the model, before loading"
            .into(),
    )
}

impl Model {
    /// Writes every weight to a safetensors file (through a temporary file and a rename, so
    /// an interrupted save leaves any previous file intact), as Keras's
    /// `model.save_weights(path)`. Tensors are named `layers.{i}.{kind}.{role}`, f32, in
    /// Keras's layouts.
    ///
    /// Errors: [`Error::Config`] when the model has no weights yet (not compiled, or its
    /// input shape still unknown), [`Error::File`], naming the path, when writing fails (a
    /// failed save leaves no temporary file behind).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-weights-{}.safetensors", std::process::id()));
    /// let mut model = Sequential::new().seed(1).add(Dense::new(3).input_shape([2]));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// model.save_weights(&path)?;
    /// let mut copy = Sequential::new().seed(2).add(Dense::new(3).input_shape([2]));
    /// copy.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// assert_ne!(copy.get_weights()?, model.get_weights()?);
    /// copy.load_weights(&path)?;
    /// assert_eq!(copy.get_weights()?, model.get_weights()?);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let weights = self.get_weights()?;
        if weights.is_empty() {
            return Err(no_weights());
        }
        let meta = HashMap::from([("format".to_string(), "wgfit".to_string())]);
        write_atomically(path.as_ref(), &weights, meta)
    }

    /// Reads weights saved by [`Model::save_weights`] (or converted from Keras), as
    /// Keras's `model.load_weights(path)`. Every name, shape and dtype is checked before
    /// anything is replaced; the optimizer state is kept (use a checkpoint to restore it).
    ///
    /// Errors: [`Error::Config`] when the model has no weights yet; [`Error::File`], naming
    /// the path, when the file cannot be read (missing, a directory), is not safetensors,
    /// lists missing or extra tensors, or names the first tensor of the wrong shape or dtype.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-load-{}.safetensors", std::process::id()));
    /// let mut small = Sequential::new().add(Dense::new(3).input_shape([2]));
    /// small.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// small.save_weights(&path)?;
    /// let mut wide = Sequential::new().add(Dense::new(4).input_shape([2]));
    /// wide.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// let err = wide.load_weights(&path).unwrap_err();
    /// assert!(matches!(&err, Error::File { tensor: Some(t), .. } if t == "layers.0.dense.kernel"));
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let expected: Vec<(String, Vec<usize>)> = self
            .named_weights()
            .into_iter()
            .map(|(n, p)| (n, p.value.dims().to_vec()))
            .collect();
        if expected.is_empty() {
            return Err(no_weights());
        }
        let (values, _) = read_checked(path.as_ref(), &expected)?;
        for (name, p) in self.named_weights() {
            p.value.write_from_slice(&values[&name])?;
        }
        Ok(())
    }
}
