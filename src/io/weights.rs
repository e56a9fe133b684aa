//! `save_weights` / `load_weights` in safetensors, with Keras's layouts and wgfit's names
//! `layers.{i}.{kind}.{role}` (e.g. `layers.1.dense.kernel`, shaped `[in, units]`).

use std::collections::HashMap;
use std::path::Path;

use super::file::{read_checked, write_atomically};
use crate::error::{Error, Result};
use crate::model::Sequential;

fn no_weights() -> Error {
    Error::Config("the model has no weights yet: compile (and build) it first".into())
}

impl Sequential {
    /// Writes every weight to a safetensors file (through a temporary file and a rename, so
    /// an interrupted save leaves any previous file intact).
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let weights = self.get_weights()?;
        if weights.is_empty() {
            return Err(no_weights());
        }
        let meta = HashMap::from([("format".to_string(), "wgfit".to_string())]);
        write_atomically(path.as_ref(), &weights, meta)
    }

    /// Reads weights saved by [`Sequential::save_weights`] (or converted from Keras). Every
    /// name, shape and dtype is checked before anything is replaced; missing or extra tensors
    /// are listed.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let expected: Vec<(String, Vec<usize>)> = self
            .named_params()
            .into_iter()
            .map(|(n, p)| (n, p.value.dims().to_vec()))
            .collect();
        if expected.is_empty() {
            return Err(no_weights());
        }
        let (values, _) = read_checked(path.as_ref(), &expected)?;
        for (name, p) in self.named_params() {
            p.value.write_from_slice(&values[&name])?;
        }
        Ok(())
    }
}
