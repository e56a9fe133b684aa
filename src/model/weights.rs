//! A model's weights by name: read back (`get_weights`), replaced (`set_weights`), or
//! shared with an app as the GPU buffers that hold them (`weight_buffer`).

use super::Model;
use crate::error::{Error, Result};
use crate::layers::Param;

impl Model {
    /// The weights by name (`layers.{i}.{kind}.{role}`, e.g. `layers.0.dense.kernel`), read
    /// back to the host, in Keras's `model.get_weights()` order (empty before the model is
    /// built).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(3).input_shape([2]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let weights = model.get_weights()?;
    /// assert_eq!(weights[0].0, "layers.0.dense.kernel");
    /// assert_eq!(weights[0].1.shape(), &[2, 3]);
    /// assert_eq!(weights[1].0, "layers.0.dense.bias");
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn get_weights(&self) -> Result<Vec<(String, ndarray::ArrayD<f32>)>> {
        self.named_weights()
            .into_iter()
            .map(|(name, p)| Ok((name, p.value.to_array_blocking()?)))
            .collect()
    }

    /// Replaces the weights in the order of [`Model::get_weights`], checking each shape
    /// (Keras's `model.set_weights`).
    ///
    /// Errors: [`Error::Data`] when the number of arrays differs from the model's weights,
    /// [`Error::Shape`] naming the first weight whose shape differs. The count and every
    /// shape are checked before anything is written, so on an error no weight has changed.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let kernel = ndarray::arr2(&[[1.0f32], [2.0]]).into_dyn();
    /// let bias = ndarray::arr1(&[0.5f32]).into_dyn();
    /// model.set_weights(&[kernel, bias.clone()])?;
    /// assert_eq!(model.predict(&ndarray::arr2(&[[1.0f32, 1.0]]))?[[0, 0]], 3.5);
    /// assert!(matches!(model.set_weights(&[bias.clone(), bias]), Err(Error::Shape(_))));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn set_weights(&mut self, weights: &[ndarray::ArrayD<f32>]) -> Result<()> {
        let params = self.named_weights();
        if weights.len() != params.len() {
            return Err(Error::Data(format!(
                "the model has {} weights but {} were given",
                params.len(),
                weights.len()
            )));
        }
        // Every shape is checked before anything is written: a bad list changes no weight.
        for ((name, p), w) in params.iter().zip(weights) {
            if w.shape() != p.value.dims() {
                return Err(crate::error::ShapeError::new(
                    p.value.dims().iter().map(|&d| Some(d)).collect(),
                    w.shape().to_vec(),
                )
                .for_layer(name.clone())
                .because("a weight must keep its shape")
                .into());
            }
        }
        for ((_, p), w) in params.iter().zip(weights) {
            p.value
                .write_from_slice(&w.iter().copied().collect::<Vec<_>>())?;
        }
        Ok(())
    }

    /// A weight's GPU buffer, for an app's own compute passes on wgfit's device (no copy
    /// through the CPU). `name` is the weights-file name (`layers.1.dense.kernel`); `None` on
    /// the CPU reference or for an unknown name. Layout: f32, row-major, `shape` as in the
    /// weights file (a Dense kernel is `[in, units]`), starting at offset 0; the buffer may be
    /// larger than the tensor, so bind `size` bytes. The buffer stays valid while the model
    /// lives; training updates it in place.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_shape([3]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// // The CPU reference has no GPU buffers; on a GPU device this is `Some`.
    /// assert!(model.weight_buffer("layers.0.dense.kernel").is_none());
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn weight_buffer(&self, name: &str) -> Option<WeightBuffer<'_>> {
        let (_, p) = self.named_weights().into_iter().find(|(n, _)| n == name)?;
        let (buffer, size) = p.value.wgpu_buffer()?;
        Some(WeightBuffer {
            buffer,
            shape: p.value.dims().to_vec(),
            size,
        })
    }

    /// Each trainable weight (what the optimizer updates) with its file name
    /// `layers.{i}.{kind}.{role}`, `i` the layer's place in Keras's `model.layers` (Input
    /// layers left out).
    pub(crate) fn named_params(&self) -> Vec<(String, &Param)> {
        self.named(false)
    }

    /// Every weight, trainable or not, named as [`Model::named_params`]: each layer's
    /// params, then its state (Keras's `model.weights` order).
    pub(crate) fn named_weights(&self) -> Vec<(String, &Param)> {
        self.named(true)
    }

    fn named(&self, with_state: bool) -> Vec<(String, &Param)> {
        self.graph
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let state = if with_state {
                    s.layer.state()
                } else {
                    Vec::new()
                };
                (s.layer.params().into_iter())
                    .chain(state)
                    .map(move |p| (format!("layers.{i}.{}.{}", s.layer.kind(), p.role), p))
            })
            .collect()
    }
}

/// A weight's wgpu buffer and layout (see [`Model::weight_buffer`]), for binding a
/// trained weight in an app's own shaders without a copy through the CPU.
///
/// Only a GPU-compiled model has them; on [`Device::cpu`](crate::Device::cpu) `weight_buffer` returns `None`.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(2).input_shape([3]));
/// let device = Device::cpu(); // or Device::auto()? for a GPU
/// model.compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// if let Some(wb) = model.weight_buffer("layers.0.dense.kernel") {
///     assert_eq!(wb.shape, vec![3, 2]);
///     assert_eq!(wb.size, 3 * 2 * 4); // f32 bytes
/// } else {
///     assert!(matches!(device, Device::Cpu));
/// }
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct WeightBuffer<'a> {
    /// The buffer holding the weight (usage includes `STORAGE`), owned by the model.
    pub buffer: &'a wgpu::Buffer,
    /// The weight's shape; values are f32, row-major, from offset 0.
    pub shape: Vec<usize>,
    /// Bytes the weight occupies (the buffer itself may be larger).
    pub size: u64,
}
