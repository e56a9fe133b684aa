//! `Sequential`: a stack of layers, as Keras's. It is a chain of the graph a [`Model`] runs:
//! one input through each layer in turn, with the model's compile, training loop and files.

use std::ops::{Deref, DerefMut};

use super::functional::Model;
use super::graph::Graph;
use super::node::IntoLayer;
use crate::layers::{Dims, Layer};

/// A linear stack of layers, as Keras's `Sequential`: build it with [`Sequential::add`],
/// bind it to a device with [`compile`](Model::compile), then [`fit`](Model::fit),
/// [`evaluate`](Model::evaluate) and [`predict`](Model::predict) on ndarray data
/// (`x: [N, ...input]`); weights go to files with [`save_weights`](Model::save_weights)
/// and training state with [`save_checkpoint`](Model::save_checkpoint). It derefs to the
/// [`Model`] it is (a chain of the same graph), so every model method works on it.
///
/// Every call that needs a compiled model returns [`Error::Config`](crate::Error::Config) before `compile`.
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
    model: Model,
    input: Option<Dims>,
}

impl Default for Sequential {
    fn default() -> Self {
        Self::new()
    }
}

impl Sequential {
    /// An empty model; weights are drawn from [`set_random_seed`](crate::set_random_seed)'s
    /// seed (0 unless set) unless [`Sequential::seed`] says otherwise.
    ///
    /// ```
    /// let model = wgfit::Sequential::new();
    /// assert_eq!(model.count_params(), 0);
    /// assert!(model.device().is_none()); // not compiled
    /// ```
    pub fn new() -> Self {
        Sequential {
            model: Model::from_graph(Graph::chain(None, Vec::new())),
            input: None,
        }
    }

    /// Appends a layer (Keras's `model.add(layer)`; Keras's name, hence not `std::ops::Add`),
    /// or a [`Named`](crate::Named) one. The first layer may declare the model's input shape
    /// (`input_shape(...)` on it).
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl IntoLayer) -> Self {
        let old = std::mem::replace(&mut self.model.graph, Graph::chain(None, Vec::new()));
        // An activation the last layer handed to the model at compile stays the model's to
        // apply after that layer (it is no longer an output, but it still runs).
        let handed: Vec<_> = old.applies.iter().map(|a| a.activation).collect();
        let mut layers = old.into_layers();
        layers.push(layer.into_layer());
        let input = self.input.clone().or_else(|| layers[0].0.declared_input());
        self.model.graph = Graph::chain(input, layers);
        for (a, act) in self.model.graph.applies.iter_mut().zip(handed) {
            a.activation = act;
        }
        self.model.compiled = None;
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
    pub fn add_boxed(self, layer: Box<dyn Layer>) -> Self {
        self.add(layer)
    }

    /// The per-sample input shape (`None` for any size), when the first layer does not
    /// declare one: `[None, Some(10)]` takes sequences of any length with 10 features (as
    /// Keras's `keras.Input(shape=(None, 10))` first in a `Sequential`). With it the weights
    /// are created at `compile`; without it, at the first data seen.
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        let dims = dims.into();
        self.input = Some(dims.clone());
        self.model.graph.inputs[0].dims = Some(dims);
        self
    }

    /// The seed of the initial weights (default: [`set_random_seed`](crate::set_random_seed)'s,
    /// 0 unless set): the same seed gives the same weights.
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
        self.model.set_seed(seed);
        self
    }
}

impl Deref for Sequential {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.model
    }
}

impl DerefMut for Sequential {
    fn deref_mut(&mut self) -> &mut Model {
        &mut self.model
    }
}
