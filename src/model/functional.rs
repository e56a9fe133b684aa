//! The functional API for chains: `Input::new(dims)`, `layer.call(&x)`, `Model::new(&inputs,
//! &outputs)`. A `Model` is a `Sequential` underneath, with the same compile, fit, evaluate,
//! predict and weights files.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use super::sequential::Sequential;
use crate::error::{Error, Result};
use crate::layers::{Dims, Layer};

/// A symbolic tensor: where a layer's output goes, not data.
#[derive(Clone)]
pub struct Node(Rc<NodeInner>);

struct NodeInner {
    parent: Option<Node>,
    /// The layer producing this node (taken when a `Model` is made); `None` at an `Input`.
    layer: RefCell<Option<Box<dyn Layer>>>,
    /// The per-sample shape, at an `Input`.
    input: Option<Dims>,
}

/// The start of a functional model: per-sample dims, `None` for any size.
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::layers::{Lstm, Masking};
/// let inputs = Input::new([None, Some(10)]);
/// let masked = Masking::new(0.0).call(&inputs);
/// let outputs = Dense::new(1).activation(Activation::Sigmoid).call(&Lstm::new(32).call(&masked));
/// let mut model = Model::new(&inputs, &outputs)?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::BinaryCrossentropy, &[Metric::Accuracy])?;
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Input;

impl Input {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dims: impl Into<Dims>) -> Node {
        Node(Rc::new(NodeInner {
            parent: None,
            layer: RefCell::new(None),
            input: Some(dims.into()),
        }))
    }
}

/// Applies a layer to a symbolic tensor, as calling a Keras layer on one.
pub trait Call {
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

/// A model from `inputs` to `outputs` through a chain of layers.
pub struct Model {
    inner: Sequential,
}

impl Model {
    /// Collects the layers from `outputs` back to `inputs`. Each layer joins one model; the
    /// chain must lead back to these `inputs` (branches and merges are not supported yet).
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
