//! `Sequential`: a stack of layers, compiled for a device with an optimizer, a loss and
//! metrics; `fit`, `evaluate` and `predict` live in `train.rs`, weights by name in
//! `weights.rs`, weights files in `io`.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::device::Device;
use crate::error::{Error, Result, fmt_dims};
use crate::layers::{Dims, Layer};
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;
use crate::shape::InputSpec;
use crate::tensor::Tensor;

/// A linear stack of layers, as Keras's `Sequential`: build it with [`Sequential::add`],
/// bind it to a device with [`Sequential::compile`], then [`fit`](Sequential::fit),
/// [`evaluate`](Sequential::evaluate) and [`predict`](Sequential::predict) on ndarray data
/// (`x: [N, ...input]`); weights go to files with [`save_weights`](Sequential::save_weights)
/// and training state with [`save_checkpoint`](Sequential::save_checkpoint).
///
/// Every call that needs a compiled model returns [`Error::Config`] before `compile`.
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
    ///
    /// ```
    /// let model = wgfit::Sequential::new();
    /// assert_eq!(model.count_params(), 0);
    /// assert!(model.device().is_none()); // not compiled
    /// ```
    pub fn new() -> Self {
        Sequential {
            layers: Vec::new(),
            input: None,
            seed: 0,
            compiled: None,
        }
    }

    /// Appends a layer (Keras's `model.add(layer)`; Keras's name, hence not `std::ops::Add`).
    /// The first layer may declare the model's input shape (`input_shape(...)` on it).
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Layer + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }
    /// Appends a boxed layer (for layers chosen at run time).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// use wgfit::layers::Layer;
    /// let hidden: Vec<Box<dyn Layer>> = (0..3).map(|_| Box::new(Dense::new(4)) as Box<dyn Layer>).collect();
    /// let mut model = Sequential::new().input_shape([Some(2)]);
    /// for layer in hidden { model = model.add_boxed(layer); }
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// assert_eq!(model.count_params(), (2 * 4 + 4) + 2 * (4 * 4 + 4));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn add_boxed(mut self, layer: Box<dyn Layer>) -> Self {
        self.layers.push(layer);
        self
    }

    /// The per-sample input shape (`None` for any size), when the first layer does not
    /// declare one: `[None, Some(10)]` takes sequences of any length with 10 features (as
    /// Keras's `keras.Input(shape=(None, 10))` first in a `Sequential`). With it the weights
    /// are created at `compile`; without it, at the first data seen.
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    /// The seed of the initial weights (default 0): the same seed gives the same weights.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let make = |seed| -> Result<_> {
    ///     let mut m = Sequential::new().seed(seed).add(Dense::new(3).input_shape([2]));
    ///     m.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    ///     m.get_weights()
    /// };
    /// assert_eq!(make(7)?, make(7)?);
    /// assert_ne!(make(7)?, make(8)?);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Binds the model to a device with an optimizer, a loss and metrics (Keras's
    /// `model.compile(optimizer=..., loss=..., metrics=[...])`). Weights are created here when
    /// the model or its first layer declares its input shape, else at the first data seen.
    /// Compiling again starts over: new weights from the seed, fresh optimizer state.
    ///
    /// Errors: [`Error::Config`] for a model without layers or a metric the loss cannot
    /// resolve; a layer that cannot take the declared input shape fails here too.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let device = Device::cpu();
    /// let mut model = Sequential::new().add(Dense::new(3).activation(Activation::Softmax).input_shape([4]));
    /// model.compile(&device, Optimizer::adam(), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
    /// assert_eq!(model.count_params(), 4 * 3 + 3); // built: the input shape was declared
    /// let empty = Sequential::new().compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[]);
    /// assert!(matches!(empty, Err(Error::Config(_))));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
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

    /// The device the model was compiled for (`None` before `compile`).
    pub fn device(&self) -> Option<&Device> {
        self.compiled.as_ref().map(|c| &c.device)
    }

    /// Total number of weights (Keras's `model.count_params()`; 0 before the model is built).
    pub fn count_params(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| l.params())
            .map(|p| p.value.numel())
            .sum()
    }

    /// A Keras-like table of layers, output shapes and parameter counts (Keras's
    /// `model.summary()`, returned rather than printed).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_shape([3]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let table = model.summary();
    /// assert!(table.contains("dense_0 (dense)") && table.contains("[*, 2]"));
    /// assert!(table.contains("Total params: 8"));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
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

pub(crate) fn not_compiled() -> Error {
    Error::Config(
        "the model is not compiled: call compile(&device, optimizer, loss, metrics) first".into(),
    )
}
