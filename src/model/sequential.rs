//! `Sequential`: a stack of layers, compiled for a device with an optimizer, a loss and
//! metrics; `fit`, `evaluate` and `predict` live in `train.rs`, weights files in `io`.

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::device::Device;
use crate::error::{fmt_dims, Error, Result};
use crate::layers::{Dims, Layer, Param};
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;
use crate::shape::InputSpec;
use crate::tensor::Tensor;

/// A linear stack of layers, as Keras's `Sequential`.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new()
///     .add(Flatten::new().input_shape([28, 28]))
///     .add(Dense::new(128).activation(Activation::Relu))
///     .add(Dense::new(10).activation(Activation::Softmax));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::CategoricalCrossentropy, &[Metric::Accuracy])?;
/// assert_eq!(model.count_params(), 784 * 128 + 128 + 128 * 10 + 10);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Sequential {
    pub(crate) layers: Vec<Box<dyn Layer>>,
    input: Option<Dims>,
    seed: u64,
    pub(crate) compiled: Option<Compiled>,
}

pub(crate) struct Compiled {
    pub(crate) device: Device,
    pub(crate) optimizer: Optimizer,
    pub(crate) loss: Loss,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) built: Option<Built>,
    rng: StdRng,
}

pub(crate) struct Built {
    pub(crate) spec: InputSpec,
    pub(crate) output: Dims,
    /// Each layer's per-sample output shape.
    layer_outputs: Vec<Dims>,
    /// Optimizer slots per weight, in `params()` order.
    pub(crate) slots: Vec<Vec<Tensor>>,
    /// Optimizer steps taken (Adam's t).
    pub(crate) step: u64,
}

impl Default for Sequential {
    fn default() -> Self {
        Self::new()
    }
}

impl Sequential {
    /// An empty model; weights are drawn from seed 0 unless [`Sequential::seed`] says otherwise.
    pub fn new() -> Self {
        Sequential {
            layers: Vec::new(),
            input: None,
            seed: 0,
            compiled: None,
        }
    }

    /// Appends a layer (Keras's name, hence not `std::ops::Add`).
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Layer + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }
    /// Appends a boxed layer.
    #[must_use]
    pub fn add_boxed(mut self, layer: Box<dyn Layer>) -> Self {
        self.layers.push(layer);
        self
    }

    /// The per-sample input shape (`None` for any size), when the first layer does not
    /// declare one: `[None, Some(10)]` takes sequences of any length with 10 features.
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    /// The seed of the initial weights.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Binds the model to a device with an optimizer, a loss and metrics. Weights are created
    /// here when the first layer declares its input shape, else at the first data seen.
    pub fn compile(
        &mut self,
        device: &Device,
        optimizer: Optimizer,
        loss: Loss,
        metrics: &[Metric],
    ) -> Result<()> {
        if self.layers.is_empty() {
            return Err(Error::Config(
                "the model has no layers; add some before compile".into(),
            ));
        }
        for m in metrics {
            m.check(loss)?;
        }
        self.compiled = Some(Compiled {
            device: device.clone(),
            optimizer,
            loss,
            metrics: metrics.to_vec(),
            built: None,
            rng: StdRng::seed_from_u64(self.seed),
        });
        if let Some(input) = self
            .input
            .clone()
            .or_else(|| self.layers[0].declared_input())
        {
            self.build(&input)?;
        }
        Ok(())
    }

    /// Creates every layer's weights for per-sample input `input`.
    fn build(&mut self, input: &[Option<usize>]) -> Result<()> {
        let compiled = self.compiled.as_mut().ok_or_else(not_compiled)?;
        let mut dims: Dims = input.to_vec();
        let mut layer_outputs = Vec::new();
        for layer in &mut self.layers {
            dims = layer.build(&compiled.device, &dims, &mut compiled.rng)?;
            layer_outputs.push(dims.clone());
        }
        let mut spec_dims = vec![None];
        spec_dims.extend_from_slice(input);
        let spec = InputSpec::new(self.layers[0].kind(), spec_dims);
        let mut slots = Vec::new();
        for layer in &self.layers {
            for p in layer.params() {
                slots.push(compiled.optimizer.new_slots(&compiled.device, &p.value)?);
            }
        }
        compiled.built = Some(Built {
            spec,
            output: dims,
            layer_outputs,
            slots,
            step: 0,
        });
        Ok(())
    }

    /// Builds from the data's per-sample shape if nothing declared one.
    pub(crate) fn ensure_built(&mut self, x_shape: &[usize]) -> Result<()> {
        let compiled = self.compiled.as_ref().ok_or_else(not_compiled)?;
        if compiled.built.is_none() {
            let sample = self.layers[0].input_template(x_shape.get(1..).unwrap_or(&[]));
            self.build(&sample)?;
        }
        Ok(())
    }

    pub(crate) fn parts(&mut self) -> Result<(&mut Vec<Box<dyn Layer>>, &mut Compiled)> {
        let compiled = self.compiled.as_mut().ok_or_else(not_compiled)?;
        Ok((&mut self.layers, compiled))
    }

    /// The device the model was compiled for.
    pub fn device(&self) -> Option<&Device> {
        self.compiled.as_ref().map(|c| &c.device)
    }

    /// Total number of weights (0 before the model is built).
    pub fn count_params(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| l.params())
            .map(|p| p.value.numel())
            .sum()
    }

    /// The weights by name (`layers.{i}.{kind}.{role}`), read back to the host.
    pub fn get_weights(&self) -> Result<Vec<(String, ndarray::ArrayD<f32>)>> {
        self.named_params()
            .into_iter()
            .map(|(name, p)| Ok((name, p.value.to_array_blocking()?)))
            .collect()
    }

    /// Replaces the weights in the order of [`Sequential::get_weights`], checking each shape.
    pub fn set_weights(&mut self, weights: &[ndarray::ArrayD<f32>]) -> Result<()> {
        let params = self.named_params();
        if weights.len() != params.len() {
            return Err(Error::Data(format!(
                "the model has {} weights but {} were given",
                params.len(),
                weights.len()
            )));
        }
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
    pub fn weight_buffer(&self, name: &str) -> Option<WeightBuffer<'_>> {
        let (_, p) = self.named_params().into_iter().find(|(n, _)| n == name)?;
        let (buffer, size) = p.value.wgpu_buffer()?;
        Some(WeightBuffer {
            buffer,
            shape: p.value.dims().to_vec(),
            size,
        })
    }

    /// Each weight with its file name `layers.{i}.{kind}.{role}`.
    pub(crate) fn named_params(&self) -> Vec<(String, &Param)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.params()
                    .into_iter()
                    .map(move |p| (format!("layers.{i}.{}.{}", l.kind(), p.role), p))
            })
            .collect()
    }

    /// A Keras-like table of layers, output shapes and parameter counts.
    pub fn summary(&self) -> String {
        let outputs = self
            .compiled
            .as_ref()
            .and_then(|c| c.built.as_ref())
            .map(|b| &b.layer_outputs);
        let line = "-".repeat(72);
        let mut s = format!(
            "Model: \"sequential\"\n{line}\n{:<32}{:<26}{:>14}\n{line}\n",
            "Layer (type)", "Output Shape", "Param #"
        );
        for (i, layer) in self.layers.iter().enumerate() {
            let out = outputs.map_or("? (not built)".to_string(), |o| {
                fmt_dims(
                    &std::iter::once(None)
                        .chain(o[i].iter().copied())
                        .collect::<Vec<_>>(),
                )
            });
            let params: usize = layer.params().iter().map(|p| p.value.numel()).sum();
            s += &format!(
                "{:<32}{out:<26}{params:>14}\n",
                format!("{}_{i} ({})", layer.kind(), layer.kind())
            );
        }
        s += &format!("{line}\nTotal params: {}\n", self.count_params());
        s
    }
}

/// A weight's wgpu buffer and layout (see [`Sequential::weight_buffer`]).
#[derive(Debug, Clone)]
pub struct WeightBuffer<'a> {
    pub buffer: &'a wgpu::Buffer,
    /// The weight's shape; values are f32, row-major, from offset 0.
    pub shape: Vec<usize>,
    /// Bytes the weight occupies (the buffer itself may be larger).
    pub size: u64,
}

pub(crate) fn not_compiled() -> Error {
    Error::Config(
        "the model is not compiled: call compile(&device, optimizer, loss, metrics) first".into(),
    )
}
