//! `Model`: a graph of layers (any DAG: several inputs and outputs, merges, fan-out, shared
//! layers), compiled for a device with an optimizer and a loss per output. `Sequential` is a
//! chain of the same. Building the weights is in `build.rs`; fit, evaluate and predict in
//! `fit.rs`; weights by name in `weights.rs`.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::build::Built;
use super::graph::Graph;
use super::node::Nodes;
use super::outputs::{Head, OutputLoss};
use crate::device::Device;
use crate::error::{Error, Result, fmt_dims};
use crate::losses::Loss;
use crate::metrics::Metric;
use crate::optimizers::Optimizer;

/// A model from inputs to outputs through a graph of layers (Keras's functional
/// `keras.Model(inputs=..., outputs=...)`): branches, merges, several inputs and outputs, a
/// layer applied at several places ([`Shared`](crate::Shared)).
///
/// Bind it to a device with [`compile`](Model::compile) (one loss for every output) or
/// [`compile_outputs`](Model::compile_outputs) (a loss, weight and metrics per output), then
/// [`fit`](Model::fit), [`evaluate`](Model::evaluate) and [`predict`](Model::predict).
/// Weights are named `layers.{i}.{kind}.{role}` with `i` the layer's place in Keras's
/// `model.layers` (Input layers left out).
///
/// ```
/// use wgfit::prelude::*;
/// let inputs = Input::new([Some(2)]);
/// let outputs = Dense::new(1).call(&Dense::new(4).activation(Activation::Relu).call(&inputs));
/// let mut model = Model::new(&inputs, &outputs)?.seed(3);
/// model.compile(&Device::cpu(), Optimizer::adam().learning_rate(0.05), Loss::MeanSquaredError, &[])?;
/// let x = ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0]]);
/// let history = model.fit(&x, &ndarray::arr1(&[1.0f32, 1.0, 2.0]), FitOptions::new().epochs(20).verbose(0))?;
/// assert!(history.loss()[19] < history.loss()[0]);
/// assert_eq!(model.get_weights()?[2].0, "layers.1.dense.kernel");
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Model {
    pub(crate) graph: Graph,
    pub(crate) compiled: Option<Compiled>,
    pub(crate) seed: u64,
}

/// A model bound to a device: the optimizer, a loss head per output, and (once the input
/// shapes are known) the built weights' optimizer state.
pub(crate) struct Compiled {
    pub(crate) device: Device,
    pub(crate) optimizer: Optimizer,
    pub(crate) heads: Vec<Head>,
    pub(crate) built: Option<Built>,
    pub(crate) rng: StdRng,
}

impl Model {
    /// Takes the layers between `inputs` and `outputs` into a model: one node each
    /// (`Model::new(&x, &y)`) or several (`Model::new(&[&a, &b], &[&y1, &y2])`).
    ///
    /// Errors ([`Error::Config`]): the outputs read an Input that is not among `inputs`, there
    /// is no layer between them, two layers have one name, an Embedding is not fed by an
    /// Input, or a layer already went into another model. When the graph itself is wrong
    /// (disconnected, no layer, a layer taken already) nothing is taken from the nodes.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let inputs = Input::new([Some(2)]);
    /// assert!(matches!(Model::new(&inputs, &inputs), Err(Error::Config(_)))); // no layer
    /// let outputs = Dense::new(1).call(&inputs);
    /// let model = Model::new(&inputs, &outputs)?;
    /// // The Dense layer now belongs to `model`.
    /// assert!(matches!(Model::new(&inputs, &outputs), Err(Error::Config(_))));
    /// let stray = Dense::new(1).call(&Input::new([Some(2)]));
    /// assert!(matches!(Model::new(&inputs, &stray), Err(Error::Config(_)))); // another input
    /// # drop(model);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn new(inputs: impl Nodes, outputs: impl Nodes) -> Result<Model> {
        Ok(Model::from_graph(Graph::from_nodes(
            &inputs.nodes(),
            &outputs.nodes(),
        )?))
    }

    pub(crate) fn from_graph(graph: Graph) -> Model {
        Model {
            graph,
            compiled: None,
            seed: crate::seed::random_seed(),
        }
    }

    /// The seed of the initial weights (default: [`set_random_seed`](crate::set_random_seed)'s,
    /// 0 unless set): the same seed gives the same weights.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let make = |seed| -> Result<_> {
    ///     let x = Input::new([Some(2)]);
    ///     let mut m = Model::new(&x, &Dense::new(3).call(&x))?.seed(seed);
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

    pub(crate) fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Binds the model to a device with an optimizer, one loss for every output and metrics
    /// for every output (Keras's `model.compile(optimizer=..., loss=..., metrics=[...])`).
    /// Weights are created here when every input's shape is known, else at the first data
    /// seen. Compiling again starts over: new weights from the seed, fresh optimizer state.
    ///
    /// Errors: [`Error::Config`] for a model without layers, a metric the loss cannot
    /// resolve, or a layer that cannot take its input shapes (the error names it).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let x = Input::new([Some(4)]);
    /// let mut model = Model::new(&x, &Dense::new(3).activation(Activation::Softmax).call(&x))?;
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
    /// assert_eq!(model.count_params(), 4 * 3 + 3); // built: the input shape is known
    /// let empty = Sequential::new().compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[]);
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
        let heads = self
            .graph
            .output_names()
            .into_iter()
            .map(|name| OutputLoss::new(&name, loss).metrics(metrics))
            .collect::<Vec<_>>();
        self.compile_outputs(device, optimizer, &heads)
    }

    /// [`compile`](Model::compile) with a loss, a weight and metrics per output (Keras's
    /// `loss={...}, loss_weights={...}, metrics={...}` keyed by output name): one
    /// [`OutputLoss`] for each output, by its layer's name. The loss trained is
    /// `Σ weight × loss`; the history logs it as `loss`, each output's own as
    /// `{name}_loss` and its metrics as `{name}_accuracy`.
    ///
    /// Errors ([`Error::Config`]): an output without an entry, an entry naming no output,
    /// two entries for one output, or a metric its loss cannot resolve.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let x = Input::new([Some(6)]);
    /// let h = Dense::new(8).activation(Activation::Tanh).call(&x);
    /// let cls = Dense::new(3).activation(Activation::Softmax).name("cls").call(&h);
    /// let reg = Dense::new(1).name("reg").call(&h);
    /// let mut model = Model::new(&x, &[&cls, &reg])?;
    /// model.compile_outputs(&Device::cpu(), Optimizer::sgd(), &[
    ///     OutputLoss::new("cls", Loss::SparseCategoricalCrossentropy).metrics(&[Metric::Accuracy]),
    ///     OutputLoss::new("reg", Loss::MeanSquaredError).weight(0.5),
    /// ])?;
    /// let xs = ndarray::Array2::<f32>::ones((4, 6));
    /// let (ids, values) = (ndarray::arr1(&[0.0f32, 1.0, 2.0, 1.0]), ndarray::Array2::<f32>::zeros((4, 1)));
    /// let history = model.fit(&xs, [ids.view().into_dyn(), values.view().into_dyn()], FitOptions::new().verbose(0))?;
    /// for key in ["loss", "cls_loss", "reg_loss", "cls_accuracy"] {
    ///     assert!(history.get(key).is_some(), "{key}");
    /// }
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn compile_outputs(
        &mut self,
        device: &Device,
        optimizer: Optimizer,
        outputs: &[OutputLoss],
    ) -> Result<()> {
        if self.graph.layers.is_empty() {
            return Err(Error::Config(
                "the model has no layers; add some before compile".into(),
            ));
        }
        self.graph.prepare()?;
        let heads = Head::match_outputs(&self.graph.output_names(), outputs)?;
        self.compiled = Some(Compiled {
            device: device.clone(),
            optimizer,
            heads,
            built: None,
            rng: StdRng::seed_from_u64(self.seed),
        });
        if let Some(dims) = self
            .graph
            .inputs
            .iter()
            .map(|i| i.dims.clone())
            .collect::<Option<Vec<_>>>()
        {
            self.build(&dims)?;
        }
        Ok(())
    }

    /// The device the model was compiled for (`None` before `compile`).
    pub fn device(&self) -> Option<&Device> {
        self.compiled.as_ref().map(|c| &c.device)
    }

    /// Total number of weights, trainable or not (Keras's `model.count_params()`; 0 before the
    /// model is built).
    pub fn count_params(&self) -> usize {
        self.graph
            .layers
            .iter()
            .flat_map(|s| s.layer.params().into_iter().chain(s.layer.state()))
            .map(|p| p.value.numel())
            .sum()
    }

    /// The outputs' names (their layers' names), in order: the keys of
    /// [`compile_outputs`](Model::compile_outputs) and of the history's per-output logs.
    pub fn output_names(&self) -> Vec<String> {
        self.graph.output_names()
    }

    /// The layers' names in Keras's `model.layers` order (Input layers left out): layer `i`
    /// here is `layers.{i}` in weight names.
    pub fn layer_names(&self) -> Vec<String> {
        self.graph.layers.iter().map(|s| s.name.clone()).collect()
    }

    /// A Keras-like table of layers, output shapes and parameter counts (Keras's
    /// `model.summary()`, returned rather than printed).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(2).input_shape([3]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let table = model.summary();
    /// assert!(table.contains("dense (dense)") && table.contains("[*, 2]"));
    /// assert!(table.contains("Total params: 8"));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn summary(&self) -> String {
        let built = self.compiled.as_ref().and_then(|c| c.built.as_ref());
        let line = "-".repeat(72);
        let mut s = format!(
            "Model: \"{}\"\n{line}\n{:<32}{:<26}{:>14}\n{line}\n",
            if self.graph.is_chain() {
                "sequential"
            } else {
                "functional"
            },
            "Layer (type)",
            "Output Shape",
            "Param #"
        );
        for (i, slot) in self.graph.layers.iter().enumerate() {
            let out = built
                .and_then(|b| {
                    let a = self.graph.applies.iter().find(|a| a.layer == i)?;
                    let dims = b.value_dims.get(a.outputs[0])?;
                    Some(fmt_dims(
                        &std::iter::once(None)
                            .chain(dims.iter().copied())
                            .collect::<Vec<_>>(),
                    ))
                })
                .unwrap_or_else(|| "? (not built)".to_string());
            let params: usize = (slot.layer.params().into_iter())
                .chain(slot.layer.state())
                .map(|p| p.value.numel())
                .sum();
            s += &format!(
                "{:<32}{out:<26}{params:>14}\n",
                format!("{} ({})", slot.name, slot.layer.kind())
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
