//! `wgfit::Error`: one typed error for everything a user can get wrong or a GPU can refuse.
//!
//! Every fallible call returns [`Result<T>`](Result), whose error is [`Error`]. Match on its
//! variants to tell a bad shape ([`Error::Shape`], carrying a [`ShapeError`]) from bad data,
//! a bad file or a GPU failure; `Display` gives a message that names the batch, sample and
//! layer involved.

use std::fmt;

/// The result type of every fallible wgfit call: `std::result::Result<T, wgfit::Error>`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// fn ones(n: usize) -> wgfit::Result<Vec<f32>> {
///     Tensor::from_vec(&Device::cpu(), [n], vec![1.0; n])?.to_vec_blocking()
/// }
/// assert_eq!(ones(3)?, vec![1.0, 1.0, 1.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in wgfit, with enough context to act on.
///
/// The enum is `#[non_exhaustive]`: a `match` needs a `_` arm. Shape problems come as
/// [`Error::Shape`] with a boxed [`ShapeError`] whose fields say what was expected.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// // 5 values cannot fill a [2, 3] tensor.
/// let err = Tensor::from_vec(&Device::cpu(), [2, 3], vec![1.0; 5]).unwrap_err();
/// assert!(matches!(err, Error::Shape(ref s) if s.actual == vec![5]));
/// // Reading a u32 tensor back as f32 is a data error.
/// let ids = Tensor::from_u32(&Device::cpu(), [2], vec![1, 2])?;
/// assert!(matches!(ids.to_vec_blocking(), Err(Error::Data(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor or batch does not have the shape that was expected (boxed: it carries
    /// several shapes and names, and errors travel through every `Result`).
    #[error("{0}")]
    Shape(Box<ShapeError>),
    /// x and y (or sequences and their targets) hold different numbers of samples.
    #[error("{what}: x has {x} samples but y has {y}; they must match one to one")]
    Length {
        /// The data involved (e.g. `"x"`, `"validation data"`, `"SequenceDataset"`).
        what: String,
        /// Number of samples in x.
        x: usize,
        /// Number of samples in y.
        y: usize,
    },
    /// A label that is not a class id of the model (negative, fractional, or too large).
    #[error("{}sample {sample} has label {label}, but the model has {classes} classes (ids 0..{}){}", batch_prefix(*batch), classes.saturating_sub(1), one_based_hint(*label, *classes))]
    Label {
        /// The batch the label was found in, when known.
        batch: Option<usize>,
        /// The sample index (within the batch when `batch` is set, else within the data).
        sample: usize,
        /// The offending label value.
        label: f32,
        /// The number of classes the model has (valid ids are `0..classes`).
        classes: usize,
    },
    /// A token id that is not an integer in 0..vocab (an Embedding's input_dim).
    #[error("{}sample {sample}, step {step}: token id {id} is not an integer in 0..{vocab} (the Embedding's input_dim)", batch_prefix(*batch))]
    Token {
        /// The batch the token was found in, when known.
        batch: Option<usize>,
        /// The sample index (within the batch when `batch` is set, else within the data).
        sample: usize,
        /// The time step within the sample.
        step: usize,
        /// The offending token id.
        id: f32,
        /// The Embedding's vocabulary size (`input_dim`); valid ids are `0..vocab`.
        vocab: usize,
    },
    /// NaN or an infinity in the inputs (`what` = "x") or the labels ("y").
    #[error("{}sample {sample} of {what} contains NaN or infinite values", batch_prefix(*batch))]
    NonFinite {
        /// `"x"` for the inputs, `"y"` for the labels.
        what: &'static str,
        /// The batch the value was found in, when known.
        batch: Option<usize>,
        /// The sample holding the value.
        sample: usize,
    },
    /// Nothing to work on: no samples, or (with `sample`) a sequence of length 0.
    #[error("{what} is empty{}", sample.map_or(String::new(), |s| format!(" (sample {s}): every sequence needs at least one step")))]
    Empty {
        /// What is empty (e.g. `"x"`, `"the SequenceDataset"`).
        what: String,
        /// The sample whose sequence is empty, when it is one sequence.
        sample: Option<usize>,
    },
    /// A weights or checkpoint file that cannot be used here: unreadable, truncated, corrupt,
    /// for another model (`tensor` names the mismatch), of another dtype or optimizer.
    #[error("file {}: {problem}", path.display())]
    File {
        /// The file involved.
        path: std::path::PathBuf,
        /// The weight tensor (by name) that did not match, when it is one tensor.
        tensor: Option<String>,
        /// What is wrong with the file.
        problem: String,
    },
    /// Other invalid input data.
    #[error("data error: {0}")]
    Data(String),
    /// The GPU (or the wgpu runtime) refused or lost something: validation errors, out of
    /// memory, device lost, limits exceeded. `adapter` names the adapter involved.
    #[error("device error on {adapter}: {message}")]
    Device {
        /// The adapter, as [`DeviceInfo`](crate::DeviceInfo) displays it.
        adapter: String,
        /// wgpu's message (validation error, out of memory, device lost...).
        message: String,
    },
    /// A configuration that cannot work (an unknown `WGFIT_DEVICE`, a missing backend...).
    #[error("configuration error: {0}")]
    Config(String),
    /// An error in the validation data (`validation_data`, `validation_split` or a
    /// validation dataset): the inner error names the batch and sample within it. Reported
    /// before the first training step, as every other data error.
    #[error("validation data: {0}")]
    Validation(Box<Error>),
    /// File system errors (weights files, data files).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ShapeError> for Error {
    fn from(e: ShapeError) -> Self {
        Error::Shape(Box::new(e))
    }
}

impl Error {
    pub(crate) fn device(adapter: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Device {
            adapter: adapter.into(),
            message: message.into(),
        }
    }
}

/// A shape mismatch, with everything that locates it.
///
/// Displays as, for example,
/// `batch 3, sample 17, layer 'flatten': expected [*, 28, 28], got [28, 27]`.
/// wgfit builds these for you (inside [`Error::Shape`]); the builders add context to one.
///
/// ```
/// use wgfit::{InputSpec, ShapeError};
/// let err = ShapeError {
///     batch: None, sample: None, layer: None, reason: None,
///     expected: vec![None, Some(28), Some(28)],
///     actual: vec![32, 28, 27],
/// }
/// .in_batch(3)
/// .for_layer("flatten");
/// assert_eq!(err.to_string(), "batch 3, layer 'flatten': expected [*, 28, 28], got [32, 28, 27]");
/// // The same kind of error, as a layer's input check reports it:
/// let spec = InputSpec::new("flatten", [None, Some(28), Some(28)]);
/// let wgfit::Error::Shape(e) = spec.check_batch(3, &[32, 28, 27]).unwrap_err() else { panic!() };
/// assert_eq!(*e, err);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Index of the batch within the epoch (or dataset), when known.
    pub batch: Option<usize>,
    /// Index of the sample within its batch, when the problem is one sample.
    pub sample: Option<usize>,
    /// The layer (or op) whose input did not match.
    pub layer: Option<String>,
    /// The expected shape, `*` (or `None`) for any size.
    pub expected: Vec<Option<usize>>,
    /// The shape that was found.
    pub actual: Vec<usize>,
    /// What was being checked, when the shapes alone do not say it.
    pub reason: Option<String>,
}

impl ShapeError {
    pub(crate) fn new(expected: Vec<Option<usize>>, actual: Vec<usize>) -> Self {
        ShapeError {
            batch: None,
            sample: None,
            layer: None,
            expected,
            actual,
            reason: None,
        }
    }

    /// Builder: the batch index this error belongs to.
    #[must_use]
    pub fn in_batch(mut self, batch: usize) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Builder: the sample index within the batch.
    #[must_use]
    pub fn at_sample(mut self, sample: usize) -> Self {
        self.sample = Some(sample);
        self
    }

    /// Builder: the layer (or op) name.
    #[must_use]
    pub fn for_layer(mut self, layer: impl Into<String>) -> Self {
        self.layer = Some(layer.into());
        self
    }

    /// Builder: a sentence saying what was checked.
    #[must_use]
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// A label one past the last class id is what one-based labels (1..=classes, as the UCR/UEA
/// archive and many CSVs write them) give: say how to fix that.
fn one_based_hint(label: f32, classes: usize) -> String {
    if classes > 0 && label == classes as f32 {
        format!("; if the labels run 1..={classes}, subtract 1: class ids start at 0")
    } else {
        String::new()
    }
}

fn batch_prefix(batch: Option<usize>) -> String {
    batch.map_or(String::new(), |b| format!("batch {b}, "))
}

/// Formats dims as `[*, 28, 28]`.
pub(crate) fn fmt_dims(dims: &[Option<usize>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or_else(|| "*".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = Vec::new();
        if let Some(b) = self.batch {
            place.push(format!("batch {b}"));
        }
        if let Some(s) = self.sample {
            place.push(format!("sample {s}"));
        }
        if let Some(l) = &self.layer {
            place.push(format!("layer '{l}'"));
        }
        if !place.is_empty() {
            write!(f, "{}: ", place.join(", "))?;
        }
        if let Some(r) = &self.reason {
            write!(f, "{r}: ")?;
        }
        let actual: Vec<Option<usize>> = self.actual.iter().map(|&d| Some(d)).collect();
        write!(
            f,
            "expected {}, got {}",
            fmt_dims(&self.expected),
            fmt_dims(&actual)
        )
    }
}

impl std::error::Error for ShapeError {}
