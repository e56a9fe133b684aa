//! Activation functions, as in Keras's `activation=` argument.

/// An activation applied by a layer to its output, as Keras's `activation='relu'` strings.
///
/// Set on a layer with [`Dense::activation`](crate::layers::Dense::activation). With
/// `Softmax` or `Sigmoid` on the last layer, the crossentropy losses are computed from the
/// layer's logits (as Keras's `from_logits` path), which is both faster and more stable.
///
/// ```
/// use wgfit::prelude::*;
/// assert_eq!(Activation::Relu.name(), "relu");
/// assert_eq!(Activation::default(), Activation::Linear);
/// // A softmax output: every row of `predict` is a probability distribution.
/// let mut model = Sequential::new().add(Dense::new(3).activation(Activation::Softmax).input_shape([4]));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::CategoricalCrossentropy, &[])?;
/// let p = model.predict(&ndarray::Array2::<f32>::ones((2, 4)))?;
/// assert_eq!(p.shape(), &[2, 3]);
/// for row in p.rows() {
///     assert!((row.sum() - 1.0).abs() < 1e-5 && row.iter().all(|&v| v > 0.0));
/// }
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// Identity, `x` (Keras's `'linear'`, the default).
    #[default]
    Linear,
    /// `max(x, 0)` (Keras's `'relu'`).
    Relu,
    /// `1 / (1 + e^-x)` (Keras's `'sigmoid'`); outputs in `(0, 1)`.
    Sigmoid,
    /// `tanh(x)` (Keras's `'tanh'`); outputs in `(-1, 1)`.
    Tanh,
    /// Softmax over the last axis (Keras's `'softmax'`): each row of `[N, C]` sums to 1.
    Softmax,
}

impl Activation {
    /// The name Keras uses (`"relu"`, ...).
    ///
    /// ```
    /// assert_eq!(wgfit::Activation::Softmax.name(), "softmax");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }
}
