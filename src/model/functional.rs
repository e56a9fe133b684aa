//! The functional API for chains: `Input::new(dims)`, `layer.call(&x)`, `Model::new(&inputs,
//! &outputs)`. A `Model` is a `Sequential` underneath, with the same compile, fit, evaluate,
//! predict and weights files.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use super::sequential::Sequential;
use crate::error::{Error, Result};
use crate::layers::{Dims, Layer};

/// A symbolic tensor (Keras's `KerasTensor`): where a layer's output goes, not data. Made by
/// [`Input::new`] and [`Call::call`], consumed by [`Model::new`]. Cloning it is cheap (a
/// shared handle to the same node).
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::Node;
/// let inputs: Node = Input::new([Some(4)]);
/// let hidden: Node = Dense::new(8).call(&inputs);
/// let outputs = Dense::new(1).call(&hidden);
/// let model = Model::new(&inputs, &outputs)?;
/// assert_eq!(model.count_params(), 0); // not built before compile
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Clone)]
pub struct Node(Rc<NodeInner>);

struct NodeInner {
    parent: Option<Node>,
    /// The layer producing this node (taken when a `Model` is made); `None` at an `Input`.
    layer: RefCell<Option<Box<dyn Layer>>>,
    /// The per-sample shape, at an `Input`.
    input: Option<Dims>,
}

/// The start of a functional model (Keras's `keras.Input(shape=...)`): per-sample dims,
/// `None` for any size. [`Input::new`] returns the input [`Node`].
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::layers::{Lstm, Masking};
/// let inputs = Input::new([None, Some(10)]);
/// let masked = Masking::new(0.0).call(&inputs);
/// let outputs = Dense::new(1).activation(Activation::Sigmoid).call(&Lstm::new(32).call(&masked));
/// let mut model = Model::new(&inputs, &outputs)?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::BinaryCrossentropy, &[Metric::Accuracy])?;
/// let y = model.predict(&ndarray::Array3::<f32>::ones((3, 5, 10)))?; // 3 sequences of 5 steps
/// assert_eq!(y.shape(), &[3, 1]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Input;

impl Input {
    /// The input node for samples of shape `dims` (without the batch dim), e.g.
    /// `[None, Some(10)]` for sequences of any length with 10 features, `[Some(784)]` for
    /// vectors.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dims: impl Into<Dims>) -> Node {
        Node(Rc::new(NodeInner {
            parent: None,
            layer: RefCell::new(None),
            input: Some(dims.into()),
        }))
    }
}

/// Applies a layer to a symbolic tensor, as calling a Keras layer on one (`Dense(1)(x)`).
/// Implemented for every [`Layer`]; the layer moves into the returned node.
///
/// ```
/// use wgfit::prelude::*;
/// let inputs = Input::new([Some(3)]);
/// let outputs = Dense::new(2).activation(Activation::Softmax).call(&inputs);
/// let mut model = Model::new(&inputs, &outputs)?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::CategoricalCrossentropy, &[])?;
/// assert_eq!(model.predict(&ndarray::Array2::<f32>::zeros((4, 3)))?.shape(), &[4, 2]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub trait Call {
    /// The node of this layer's output, with `x` as its input.
    #[must_use]
    fn call(self, x: &Node) -> Node;
}

impl<L: Layer + 'static> Call for L {
    fn call(self, x: &Node) -> Node {
        Node(Rc::new(NodeInner {
            parent: Some(x.clone()),
            layer: RefCell::new(Some(Box::new(self))),
            input: None,
        }))
    }
}

/// A model from `inputs` to `outputs` through a chain of layers (Keras's functional
/// `keras.Model(inputs=inputs, outputs=outputs)`).
///
/// It derefs to a [`Sequential`], so `compile`, `fit`, `evaluate`, `predict`, `summary` and
/// the weights and checkpoint files are the same; weights are named `layers.{i}.{kind}.{role}`
/// counting from the first layer after the input.
///
/// ```
/// use wgfit::prelude::*;
/// let inputs = Input::new([Some(2)]);
/// let outputs = Dense::new(1).call(&Dense::new(4).activation(Activation::Relu).call(&inputs));
/// let mut model = Model::new(&inputs, &outputs)?;
/// model.compile(&Device::cpu(), Optimizer::adam().learning_rate(0.05), Loss::MeanSquaredError, &[])?;
/// let x = ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0]]);
/// let history = model.fit(&x, &ndarray::arr1(&[1.0f32, 1.0, 2.0]), FitOptions::new().epochs(20).verbose(0))?;
/// assert!(history.loss()[19] < history.loss()[0]);
/// assert_eq!(model.get_weights()?[2].0, "layers.1.dense.kernel");
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Model {
    inner: Sequential,
}

impl Model {
    /// Collects the layers from `outputs` back to `inputs`. Each layer joins one model; the
    /// chain must lead back to these `inputs` (branches and merges are not supported yet).
    ///
    /// Errors ([`Error::Config`]): `outputs` does not lead back to `inputs`, there is no layer
    /// between them, or a layer of the chain already went into another model. The layers are
    /// taken from the nodes as the chain is walked, so after a failed call (a chain leading to
    /// other inputs) they are gone too and the nodes cannot make a model any more.
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
    pub fn new(inputs: &Node, outputs: &Node) -> Result<Model> {
        let mut layers = Vec::new();
        let mut node = outputs.clone();
        while let Some(parent) = node.0.parent.clone() {
            let layer = node.0.layer.borrow_mut().take().ok_or_else(|| {
                Error::Config("a layer in this chain already belongs to another model".into())
            })?;
            layers.push(layer);
            node = parent;
        }
        if !Rc::ptr_eq(&node.0, &inputs.0) {
            return Err(Error::Config(
                "the outputs do not lead back to these inputs".into(),
            ));
        }
        if layers.is_empty() {
            return Err(Error::Config(
                "a model needs at least one layer between its inputs and outputs".into(),
            ));
        }
        let mut inner = Sequential::new().input_shape(node.0.input.clone().unwrap_or_default());
        for layer in layers.into_iter().rev() {
            inner = inner.add_boxed(layer);
        }
        Ok(Model { inner })
    }
}

impl Deref for Model {
    type Target = Sequential;
    fn deref(&self) -> &Sequential {
        &self.inner
    }
}

impl DerefMut for Model {
    fn deref_mut(&mut self) -> &mut Sequential {
        &mut self.inner
    }
}
