//! `Shape` (concrete dims) and `InputSpec` (dims that may be `None`), and the per-batch checks
//! that run on the host before anything is dispatched.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use crate::error::{Error, Result, ShapeError, fmt_dims};

/// A concrete tensor shape, outermost dim first (row-major, like NumPy's `shape`).
///
/// Built from an array, a `Vec` or a slice of `usize`; functions taking
/// `impl Into<Shape>` accept any of them. The empty shape is a scalar (one element).
///
/// ```
/// use wgfit::Shape;
/// let s = Shape::from([2, 3, 4]);
/// assert_eq!((s.rank(), s.numel()), (3, 24));
/// assert_eq!(s.to_string(), "[2, 3, 4]");
/// assert_eq!(Shape::default().numel(), 1); // a scalar
/// assert_eq!(Shape::from(vec![2, 3, 4]), s);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// The dims, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(d)
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(d.to_vec())
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<Option<usize>> = self.0.iter().map(|&d| Some(d)).collect();
        f.write_str(&fmt_dims(&dims))
    }
}

/// The shape a layer (or model) accepts, batch dim included; `None` means any size (Keras's
/// `None` in `Input(shape=(None, 10))`, plus the batch dim).
///
/// The checks return [`Error::Shape`] naming the layer, and the batch
/// or sample when checked through [`check_batch`](Self::check_batch) or
/// [`check_sample`](Self::check_sample).
///
/// ```
/// use wgfit::InputSpec;
/// let spec = InputSpec::new("lstm", [None, None, Some(10)]);
/// assert!(spec.check(&[2, 19, 10]).is_ok());
/// assert!(spec.check(&[4, 7, 10]).is_ok());
/// let wgfit::Error::Shape(err) = spec.check(&[2, 19, 9]).unwrap_err() else { panic!() };
/// assert_eq!(err.actual, vec![2, 19, 9]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    layer: String,
    dims: Vec<Option<usize>>,
}

impl InputSpec {
    /// A spec for `layer`'s input; `dims` includes the batch dim (usually `None`).
    pub fn new(layer: impl Into<String>, dims: impl Into<Vec<Option<usize>>>) -> Self {
        InputSpec {
            layer: layer.into(),
            dims: dims.into(),
        }
    }

    /// The dims, batch first.
    pub fn dims(&self) -> &[Option<usize>] {
        &self.dims
    }

    /// The layer this spec belongs to.
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// Checks a whole batch's shape (batch dim first).
    ///
    /// # Errors
    /// [`Error::Shape`] when the rank differs or a fixed dim does not match.
    pub fn check(&self, batch_shape: &[usize]) -> Result<()> {
        let mismatch = batch_shape.len() != self.dims.len()
            || self
                .dims
                .iter()
                .zip(batch_shape)
                .any(|(want, &got)| want.is_some_and(|w| w != got));
        if mismatch {
            let err =
                ShapeError::new(self.dims.clone(), batch_shape.to_vec()).for_layer(&self.layer);
            return Err(if batch_shape.len() != self.dims.len() {
                err.because(format!(
                    "rank {} where rank {} was expected{}",
                    batch_shape.len(),
                    self.dims.len(),
                    self.feature_axis_hint(batch_shape)
                ))
            } else {
                err
            }
            .into());
        }
        Ok(())
    }

    /// What to do when the data lacks only the feature axis of a one-feature input (a
    /// univariate series given as `[N, T]` to a layer that takes `[N, T, 1]`).
    fn feature_axis_hint(&self, batch_shape: &[usize]) -> String {
        let rank = batch_shape.len();
        let fits = rank + 1 == self.dims.len()
            && self.dims[rank] == Some(1)
            && self
                .dims
                .iter()
                .zip(batch_shape)
                .all(|(want, &got)| want.is_none_or(|w| w == got));
        if !fits {
            return String::new();
        }
        format!(
            "; the data has no feature axis: add one of size 1 (`x.insert_axis(Axis({rank}))` \
             with ndarray; `pad_feature_sequences` and `SequenceDataset::from_series` take \
             each series [T] as [T, 1])"
        )
    }

    /// Checks batch number `batch` of an epoch or dataset; the error names the batch.
    ///
    /// # Errors
    /// As [`check`](Self::check), with [`ShapeError::batch`] set to `batch`.
    pub fn check_batch(&self, batch: usize, batch_shape: &[usize]) -> Result<()> {
        self.check(batch_shape).map_err(|e| match e {
            Error::Shape(s) => Error::from(s.in_batch(batch)),
            other => other,
        })
    }

    /// Checks one sample (the spec without its batch dim); the error names the sample.
    ///
    /// ```
    /// use wgfit::InputSpec;
    /// let spec = InputSpec::new("dense", [None, Some(4)]);
    /// assert!(spec.check_sample(0, &[4]).is_ok());
    /// let wgfit::Error::Shape(e) = spec.check_sample(7, &[5]).unwrap_err() else { panic!() };
    /// assert_eq!((e.sample, e.expected.clone()), (Some(7), vec![Some(4)]));
    /// ```
    pub fn check_sample(&self, sample: usize, sample_shape: &[usize]) -> Result<()> {
        let per_sample = &self.dims[1.min(self.dims.len())..];
        let ok = per_sample.len() == sample_shape.len()
            && per_sample
                .iter()
                .zip(sample_shape)
                .all(|(want, &got)| want.is_none_or(|w| w == got));
        if ok {
            Ok(())
        } else {
            Err(ShapeError::new(per_sample.to_vec(), sample_shape.to_vec())
                .for_layer(&self.layer)
                .at_sample(sample)
                .into())
        }
    }
}

/// Stacks samples of one shape into a batch `[n, ...sample]` (NumPy's `np.stack`).
///
/// A ragged batch (samples of different shapes) is rejected naming the first sample that
/// differs from sample 0, its shape and the shape expected; with a `spec`, every sample is
/// also checked against it. Pad variable-length sequences first
/// ([`pad_sequences`](crate::data::pad_sequences)).
///
/// # Errors
/// [`Error::Shape`] for no samples, a ragged batch, or a sample that `spec` rejects.
///
/// ```
/// use ndarray::arr1;
/// use wgfit::{Error, stack_samples};
/// let (a, b) = (arr1(&[1.0f32, 2.0]).into_dyn(), arr1(&[3.0f32, 4.0]).into_dyn());
/// let batch = stack_samples(&[a.view(), b.view()], None)?;
/// assert_eq!(batch.shape(), &[2, 2]);
/// assert_eq!(batch[[1, 0]], 3.0);
/// let short = arr1(&[5.0f32]).into_dyn();
/// let err = stack_samples(&[a.view(), short.view()], None).unwrap_err();
/// assert!(matches!(err, Error::Shape(ref s) if s.sample == Some(1) && s.actual == vec![1]));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn stack_samples(
    samples: &[ArrayViewD<'_, f32>],
    spec: Option<&InputSpec>,
) -> Result<ArrayD<f32>> {
    let Some(first) = samples.first() else {
        return Err(ShapeError::new(vec![None], vec![0])
            .because("a batch needs at least one sample")
            .into());
    };
    for (i, s) in samples.iter().enumerate() {
        if let Some(spec) = spec {
            spec.check_sample(i, s.shape())?;
        }
        if s.shape() != first.shape() {
            let expected = first.shape().iter().map(|&d| Some(d)).collect();
            let mut err = ShapeError::new(expected, s.shape().to_vec())
                .at_sample(i)
                .because("ragged batch: every sample in a batch must have the shape of sample 0 (pad sequences per batch)");
            if let Some(spec) = spec {
                err = err.for_layer(spec.layer());
            }
            return Err(err.into());
        }
    }
    let mut dims = vec![samples.len()];
    dims.extend_from_slice(first.shape());
    let mut out = ArrayD::zeros(IxDyn(&dims));
    for (i, s) in samples.iter().enumerate() {
        out.index_axis_mut(Axis(0), i).assign(s);
    }
    Ok(out)
}

pub(crate) fn check_numel(shape: &[usize], len: usize) -> Result<()> {
    let numel: usize = shape.iter().product();
    if numel != len {
        return Err(
            ShapeError::new(shape.iter().map(|&d| Some(d)).collect(), vec![len])
                .because(format!(
                    "{len} values cannot fill a tensor of {numel} elements"
                ))
                .into(),
        );
    }
    Ok(())
}
