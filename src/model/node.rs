//! Building a graph: `Input::new(dims)` makes an input node, `layer.call(&x)` and
//! `merge.call_many(&[&a, &b])` apply layers to nodes, and `Model::new(&inputs, &outputs)`
//! takes the layers into a model. Nodes are symbolic (Keras's `KerasTensor`): where a value
//! will flow, not data.

use std::cell::RefCell;
use std::rc::Rc;

use crate::layers::{Dims, Layer};

/// A layer and the name it was given, if any.
pub(crate) type LayerEntry = (Box<dyn Layer>, Option<String>);

/// A layer waiting to join a model, with its name if it was given one; shared by every node
/// it was applied at, taken by the model that is made from them.
pub(crate) type LayerCell = Rc<RefCell<Option<LayerEntry>>>;

/// A symbolic tensor (Keras's `KerasTensor`): an input, or an output of a layer applied to
/// other nodes. Made by [`Input::new`], [`Call::call`] and [`CallMany::call_many`],
/// consumed by [`Model::new`](crate::Model::new). Cloning it is cheap (a shared handle).
///
/// ```
/// use wgfit::prelude::*;
/// let inputs: Node = Input::new([Some(4)]);
/// let hidden: Node = Dense::new(8).call(&inputs);
/// let outputs = Dense::new(1).call(&hidden);
/// let model = Model::new(&inputs, &outputs)?;
/// assert_eq!(model.count_params(), 0); // not built before compile
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Clone)]
pub struct Node(pub(crate) Rc<NodeKind>);

pub(crate) enum NodeKind {
    Input { dims: Dims, name: Option<String> },
    Output { call: Rc<CallSite>, index: usize },
}

/// One application of a layer to its input nodes (Keras's `Node`).
pub(crate) struct CallSite {
    pub(crate) layer: LayerCell,
    pub(crate) inputs: Vec<Node>,
}

impl Node {
    pub(crate) fn same(&self, other: &Node) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// Output `k` of the layer application this node comes from, for a layer with several
    /// outputs ([`Bidirectional`](crate::Bidirectional) with
    /// [`MergeMode::None`](crate::MergeMode::None)); [`Call::call`] gives output 0. Whether the
    /// layer has an output `k` is checked when the model is compiled. An [`Input`] node has
    /// one output: any other `k` is an [`Error::Config`](crate::Error::Config).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let x = Input::new([None, Some(3)]);
    /// let both = Bidirectional::new(Lstm::new(4)).merge_mode(MergeMode::None).call(&x);
    /// let (forward, backward) = (both.output(0)?, both.output(1)?);
    /// let joined = Concatenate::new().call_many(&[&forward, &backward]);
    /// let mut model = Model::new(&x, &Dense::new(1).call(&joined))?;
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// assert_eq!(model.predict(&ndarray::Array3::<f32>::ones((2, 5, 3)))?.shape(), &[2, 1]);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn output(&self, k: usize) -> crate::Result<Node> {
        match &*self.0 {
            NodeKind::Output { call, .. } => Ok(Node(Rc::new(NodeKind::Output {
                call: call.clone(),
                index: k,
            }))),
            NodeKind::Input { .. } if k == 0 => Ok(self.clone()),
            NodeKind::Input { .. } => Err(crate::Error::Config(format!(
                "an Input node has one output; output {k} was asked for"
            ))),
        }
    }
}

/// The start of a functional model (Keras's `keras.Input(shape=...)`): per-sample dims,
/// `None` for any size. [`Input::new`] returns the input [`Node`].
///
/// ```
/// use wgfit::prelude::*;
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
    /// vectors. Token ids for an Embedding come in as numbers too: the model makes an input
    /// that feeds Embedding layers an id input.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dims: impl Into<Dims>) -> Node {
        Node(Rc::new(NodeKind::Input {
            dims: dims.into(),
            name: None,
        }))
    }

    /// An input node with a name (Keras's `keras.Input(shape, name=...)`), used in errors
    /// and summaries.
    #[allow(clippy::new_ret_no_self)]
    pub fn named(dims: impl Into<Dims>, name: &str) -> Node {
        Node(Rc::new(NodeKind::Input {
            dims: dims.into(),
            name: Some(name.to_string()),
        }))
    }
}

/// A layer with a name given (`Dense::new(3).name("cls")`): Keras's `name=` argument. Names
/// key a model's outputs in `compile_outputs` and in the history (`cls_loss`); layers left
/// unnamed get Keras-like names (`dense`, `dense_1`, ...).
pub struct Named<L> {
    layer: L,
    name: String,
}

/// Gives a layer a name: `Dense::new(3).name("cls")` (in the prelude).
pub trait NameLayer: Layer + Sized {
    /// This layer, named `name`.
    fn name(self, name: &str) -> Named<Self> {
        Named {
            layer: self,
            name: name.to_string(),
        }
    }
}

impl<L: Layer> NameLayer for L {}

/// Something that becomes one of a model's layers: any [`Layer`], a [`Named`] one, or a
/// boxed one (chosen at run time).
pub trait IntoLayer {
    /// The layer and its name, if given.
    fn into_layer(self) -> LayerEntry;
}

impl<L: Layer + 'static> IntoLayer for L {
    fn into_layer(self) -> LayerEntry {
        (Box::new(self), None)
    }
}

impl<L: Layer + 'static> IntoLayer for Named<L> {
    fn into_layer(self) -> LayerEntry {
        (Box::new(self.layer), Some(self.name))
    }
}

impl IntoLayer for Box<dyn Layer> {
    fn into_layer(self) -> LayerEntry {
        (self, None)
    }
}

/// One layer object to apply at several places (Keras's calling one layer instance twice):
/// the places share its weights and their gradients are summed.
///
/// ```
/// use wgfit::prelude::*;
/// let (a, b) = (Input::new([Some(4)]), Input::new([Some(4)]));
/// let encoder = Shared::new(Dense::new(3).activation(Activation::Tanh));
/// let diff = Subtract::new().call_many(&[&encoder.call(&a), &encoder.call(&b)]);
/// let mut model = Model::new(&[&a, &b], &[&Dense::new(1).call(&diff)])?;
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(model.count_params(), (4 * 3 + 3) + (3 + 1)); // one set of encoder weights
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Clone)]
pub struct Shared(LayerCell);

impl Shared {
    /// Wraps a layer (or a [`Named`] one) for use at several places.
    pub fn new(layer: impl IntoLayer) -> Shared {
        Shared(Rc::new(RefCell::new(Some(layer.into_layer()))))
    }
}

fn apply(layer: LayerCell, inputs: Vec<Node>) -> Node {
    Node(Rc::new(NodeKind::Output {
        call: Rc::new(CallSite { layer, inputs }),
        index: 0,
    }))
}

/// Applies a layer to a node, as calling a Keras layer on one (`Dense(1)(x)`). Implemented
/// for every layer (which moves into the node), [`Named`] layers and `&`[`Shared`] ones.
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

/// Applies a layer to several nodes (a merge layer: `Concatenate::new().call_many(&[&a, &b])`,
/// Keras's `Concatenate()([a, b])`).
pub trait CallMany {
    /// The node of this layer's output, with `xs` as its inputs in order.
    #[must_use]
    fn call_many(self, xs: &[&Node]) -> Node;
}

impl<T: IntoLayer> Call for T {
    fn call(self, x: &Node) -> Node {
        self.call_many(&[x])
    }
}

impl<T: IntoLayer> CallMany for T {
    fn call_many(self, xs: &[&Node]) -> Node {
        apply(
            Rc::new(RefCell::new(Some(self.into_layer()))),
            xs.iter().map(|&n| n.clone()).collect(),
        )
    }
}

impl Call for &Shared {
    fn call(self, x: &Node) -> Node {
        self.call_many(&[x])
    }
}

impl CallMany for &Shared {
    fn call_many(self, xs: &[&Node]) -> Node {
        apply(self.0.clone(), xs.iter().map(|&n| n.clone()).collect())
    }
}

/// One node or several, for [`Model::new`](crate::Model::new): `&node`, `&[&a, &b]`,
/// `&[a, b]` or `&vec`.
pub trait Nodes {
    /// The nodes in order.
    fn nodes(&self) -> Vec<Node>;
}

impl Nodes for &Node {
    fn nodes(&self) -> Vec<Node> {
        vec![(*self).clone()]
    }
}

impl Nodes for &[Node] {
    fn nodes(&self) -> Vec<Node> {
        self.to_vec()
    }
}

impl Nodes for &[&Node] {
    fn nodes(&self) -> Vec<Node> {
        self.iter().map(|&n| n.clone()).collect()
    }
}

impl<const N: usize> Nodes for &[Node; N] {
    fn nodes(&self) -> Vec<Node> {
        self.to_vec()
    }
}

impl<const N: usize> Nodes for &[&Node; N] {
    fn nodes(&self) -> Vec<Node> {
        self.iter().map(|&n| n.clone()).collect()
    }
}

impl Nodes for &Vec<Node> {
    fn nodes(&self) -> Vec<Node> {
        self.to_vec()
    }
}
