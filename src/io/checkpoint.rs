//! Training checkpoints: the weights, the optimizer's state (Adam's moments, momentum and
//! velocity buffers) and step count, and the epochs done, in one safetensors file written
//! atomically. `fit` resumes from one with `FitOptions::initial_epoch`.

use std::collections::HashMap;
use std::path::Path;

use ndarray::ArrayD;

use super::file::{file_error, read_checked, read_metadata, write_atomically};
use crate::error::{Error, Result};
use crate::model::Model;

/// A checkpoint's tensors by name, the optimizer's name and its step count.
pub(crate) type Snapshot = (Vec<(String, ArrayD<f32>)>, &'static str, u64);

/// The file name of an optimizer slot of weight `name`.
pub(crate) fn slot_name(weight: &str, slot: &str) -> String {
    format!("optimizer.{weight}.{slot}")
}

impl Model {
    /// Everything a checkpoint holds, by name, with the optimizer's kind and step.
    pub(crate) fn checkpoint_tensors(&self) -> Result<Snapshot> {
        let compiled = self
            .compiled
            .as_ref()
            .ok_or_else(crate::model::not_compiled)?;
        let built = compiled.built.as_ref().ok_or_else(|| {
            Error::Config(
                "the model has no weights yet: build it (fit, or an input shape) first".into(),
            )
        })?;
        let mut tensors = self.get_weights()?;
        let slot_names = compiled.optimizer.slot_names();
        for ((name, _), slots) in self.named_params().into_iter().zip(&built.slots) {
            for (slot, tensor) in slot_names.iter().zip(slots) {
                tensors.push((slot_name(&name, slot), tensor.to_array_blocking()?));
            }
        }
        Ok((tensors, compiled.optimizer.name(), built.step))
    }

    /// The optimizer state's tensors as [`checkpoint_tensors`](Model::checkpoint_tensors)
    /// names them, with their shapes, read from the model (nothing read back from the device).
    pub(crate) fn slot_shapes(&self) -> Result<Vec<(String, Vec<usize>)>> {
        let compiled = (self.compiled.as_ref()).ok_or_else(crate::model::not_compiled)?;
        let built = (compiled.built.as_ref())
            .ok_or_else(|| Error::Config("the model has no weights yet".into()))?;
        let slot_names = compiled.optimizer.slot_names();
        let mut out = Vec::new();
        for ((name, _), slots) in self.named_params().into_iter().zip(&built.slots) {
            for (slot, tensor) in slot_names.iter().zip(slots) {
                out.push((slot_name(&name, slot), tensor.dims().to_vec()));
            }
        }
        Ok(out)
    }

    /// Saves the weights, the optimizer state and `epochs_done` to `path`, atomically (a
    /// temporary file, synced, then renamed over `path`): Keras's `model.save(...)` for
    /// resuming training. [`ModelCheckpoint`](crate::ModelCheckpoint) calls it during `fit`.
    ///
    /// Errors: [`Error::Config`] when the model is not compiled or has no weights yet,
    /// [`Error::File`], naming the path, when writing fails (a failed save leaves no temporary
    /// file behind).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-ckpt-{}.safetensors", std::process::id()));
    /// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// model.fit(&x, &y, FitOptions::new().epochs(3).verbose(0))?;
    /// model.save_checkpoint(&path, 3)?;
    /// // Later, or in another process: the same model, restored, resumes at epoch 3.
    /// let mut resumed = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// resumed.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// let done = resumed.load_checkpoint(&path)?;
    /// assert_eq!(done, 3);
    /// assert_eq!(resumed.get_weights()?, model.get_weights()?);
    /// let history = resumed.fit(&x, &y, FitOptions::new().epochs(5).initial_epoch(done).verbose(0))?;
    /// assert_eq!(history.epochs(), 2); // epochs 4 and 5
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn save_checkpoint(&self, path: impl AsRef<Path>, epochs_done: usize) -> Result<()> {
        let (tensors, optimizer, step) = self.checkpoint_tensors()?;
        let meta = HashMap::from([
            ("format".to_string(), "wgfit-checkpoint".to_string()),
            ("optimizer".to_string(), optimizer.to_string()),
            ("step".to_string(), step.to_string()),
            ("epoch".to_string(), epochs_done.to_string()),
        ]);
        write_atomically(path.as_ref(), &tensors, meta)
    }

    /// Restores weights and optimizer state from a checkpoint of this model (same layers and
    /// optimizer) and returns the epochs it had done: pass it to `FitOptions::initial_epoch`.
    /// The model must be compiled and built (an input shape declared, or data seen) first.
    ///
    /// Errors: [`Error::Config`] before that; [`Error::File`], naming the path, when the
    /// file cannot be read (missing, a directory), is not a wgfit checkpoint, holds another
    /// optimizer's state, or does not fit this model's weights (checked before anything is
    /// replaced).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let path = std::env::temp_dir().join(format!("wgfit-doc-ckpt-sgd-{}.safetensors", std::process::id()));
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// model.save_checkpoint(&path, 0)?;
    /// let mut adam = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// adam.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// assert!(matches!(adam.load_checkpoint(&path), Err(Error::File { .. }))); // sgd state
    /// assert_eq!(model.load_checkpoint(&path)?, 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn load_checkpoint(&mut self, path: impl AsRef<Path>) -> Result<usize> {
        let path = path.as_ref();
        let (tensors, optimizer, _) = self.checkpoint_tensors()?;
        let expected: Vec<(String, Vec<usize>)> = tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape().to_vec()))
            .collect();
        // The metadata first: another optimizer's state is named as such, not as tensors.
        let meta = read_metadata(path)?;
        let field = |key: &str| -> Result<u64> {
            meta.get(key).and_then(|v| v.parse().ok()).ok_or_else(|| {
                file_error(
                    path,
                    format!("is not a wgfit checkpoint (no {key} in its metadata)"),
                )
            })
        };
        let (epoch, step) = (field("epoch")?, field("step")?);
        if meta.get("optimizer").map(String::as_str) != Some(optimizer) {
            return Err(file_error(
                path,
                format!(
                    "holds {} optimizer state, but this model is compiled with {optimizer}",
                    meta.get("optimizer").map_or("no", String::as_str)
                ),
            ));
        }
        let (values, _) = read_checked(path, &expected)?;
        self.restore(&values, Some(step))?;
        Ok(epoch as usize)
    }

    /// Writes `values` (every tensor a checkpoint of this model holds, checked) into the
    /// weights and, with the optimizer's `step`, into its state.
    pub(crate) fn restore(
        &mut self,
        values: &std::collections::BTreeMap<String, Vec<f32>>,
        step: Option<u64>,
    ) -> Result<()> {
        for (name, p) in self.named_weights() {
            p.value.write_from_slice(&values[&name])?;
        }
        let Some(step) = step else {
            return Ok(());
        };
        let names: Vec<String> = self.named_params().into_iter().map(|(n, _)| n).collect();
        let compiled = self
            .compiled
            .as_mut()
            .ok_or_else(crate::model::not_compiled)?;
        let slot_names = compiled.optimizer.slot_names();
        let built = compiled.built.as_mut().ok_or_else(|| {
            Error::Config(
                "the model has no weights yet: build it (fit, or an input shape) first".into(),
            )
        })?;
        for (name, slots) in names.iter().zip(&built.slots) {
            for (slot, tensor) in slot_names.iter().zip(slots) {
                tensor.write_from_slice(&values[&slot_name(name, slot)])?;
            }
        }
        built.step = step;
        Ok(())
    }
}
