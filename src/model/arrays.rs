//! `Arrays`: one array or several (one per model input or output), as `fit`, `evaluate` and
//! `predict` take them; and `XY`, one batch of a generator.

use ndarray::{Array, ArrayBase, ArrayD, ArrayViewD, Data, Dimension};

/// One array per model input (or output): `&x` for a model with one, `[a.view().into_dyn(),
/// b.view().into_dyn()]` or `&[a, b]` (of one type) for several, in the model's order.
///
/// ```
/// use wgfit::Arrays;
/// let (a, b) = (ndarray::Array2::<f32>::zeros((4, 3)), ndarray::Array3::<f32>::zeros((4, 5, 2)));
/// let one: Arrays = (&a).into();
/// let two: Arrays = [a.view().into_dyn(), b.view().into_dyn()].into();
/// assert_eq!((one.len(), two.len()), (1, 2));
/// ```
#[derive(Debug, Clone)]
pub struct Arrays<'a>(pub(crate) Vec<ArrayViewD<'a, f32>>);

impl Arrays<'_> {
    /// How many arrays.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a, S: Data<Elem = f32>, D: Dimension> From<&'a ArrayBase<S, D>> for Arrays<'a> {
    fn from(a: &'a ArrayBase<S, D>) -> Self {
        Arrays(vec![a.view().into_dyn()])
    }
}

impl<'a, S: Data<Elem = f32>, D: Dimension, const N: usize> From<[&'a ArrayBase<S, D>; N]>
    for Arrays<'a>
{
    fn from(arrays: [&'a ArrayBase<S, D>; N]) -> Self {
        Arrays(arrays.iter().map(|a| a.view().into_dyn()).collect())
    }
}

impl<'a> From<Vec<ArrayViewD<'a, f32>>> for Arrays<'a> {
    fn from(views: Vec<ArrayViewD<'a, f32>>) -> Self {
        Arrays(views)
    }
}

impl<'a, const N: usize> From<[ArrayViewD<'a, f32>; N]> for Arrays<'a> {
    fn from(views: [ArrayViewD<'a, f32>; N]) -> Self {
        Arrays(views.to_vec())
    }
}

impl<'a, const N: usize> From<&[ArrayViewD<'a, f32>; N]> for Arrays<'a> {
    fn from(views: &[ArrayViewD<'a, f32>; N]) -> Self {
        Arrays(views.to_vec())
    }
}

impl<'a> From<&'a [ArrayD<f32>]> for Arrays<'a> {
    fn from(arrays: &'a [ArrayD<f32>]) -> Self {
        Arrays(arrays.iter().map(|a| a.view()).collect())
    }
}

impl<'a> From<&'a Vec<ArrayD<f32>>> for Arrays<'a> {
    fn from(arrays: &'a Vec<ArrayD<f32>>) -> Self {
        Arrays(arrays.iter().map(|a| a.view()).collect())
    }
}

/// One batch from a generator: its inputs and targets, one array per model input and
/// output, and optionally each sample's weight. Made from `(x, y)` or `(x, y, w)` of any
/// ndarray arrays, or `(vec![x1, x2], vec![y])`.
///
/// ```
/// use wgfit::XY;
/// let batch: XY = (ndarray::Array3::<f32>::zeros((2, 7, 3)), ndarray::Array1::<f32>::zeros(2)).into();
/// assert_eq!((batch.x.len(), batch.y.len()), (1, 1));
/// ```
#[derive(Debug, Clone)]
pub struct XY {
    /// The inputs `[B, ...]`, one per model input; B and any free dim may change from batch
    /// to batch.
    pub x: Vec<ArrayD<f32>>,
    /// The targets, one per output.
    pub y: Vec<ArrayD<f32>>,
    /// Each sample's weight (Keras's `sample_weight`), `[B]`, when given: from an
    /// `(x, y, w)` triple.
    pub w: Option<ArrayD<f32>>,
}

impl<D1: Dimension, D2: Dimension> From<(Array<f32, D1>, Array<f32, D2>)> for XY {
    fn from((x, y): (Array<f32, D1>, Array<f32, D2>)) -> Self {
        XY {
            x: vec![x.into_dyn()],
            y: vec![y.into_dyn()],
            w: None,
        }
    }
}

impl<D1: Dimension, D2: Dimension, D3: Dimension>
    From<(Array<f32, D1>, Array<f32, D2>, Array<f32, D3>)> for XY
{
    fn from((x, y, w): (Array<f32, D1>, Array<f32, D2>, Array<f32, D3>)) -> Self {
        XY {
            x: vec![x.into_dyn()],
            y: vec![y.into_dyn()],
            w: Some(w.into_dyn()),
        }
    }
}

impl From<(Vec<ArrayD<f32>>, Vec<ArrayD<f32>>)> for XY {
    fn from((x, y): (Vec<ArrayD<f32>>, Vec<ArrayD<f32>>)) -> Self {
        XY { x, y, w: None }
    }
}
