//! Host-side data helpers, as in `keras.utils`, and datasets of variable-length sequences.

mod dataset;
mod pad;
mod samples;
mod sequences;
mod timeseries;

pub use dataset::{PaddingReport, SequenceDataset};
pub use pad::{PadOptions, Padding, pad_feature_sequences, pad_sequences};
pub use sequences::{IntoSequence, IntoSequences, IntoTargets};
pub use timeseries::{TimeseriesOptions, timeseries_dataset_from_array};

use ndarray::{Array2, ArrayBase, Data, Dimension};

use crate::error::{Error, Result};

/// One-hot rows `[N, num_classes]` for integer class ids (given as f32, as ndarray data
/// usually is), as `keras.utils.to_categorical(labels, num_classes)`: the targets of
/// [`Loss::CategoricalCrossentropy`](crate::Loss::CategoricalCrossentropy). Labels of any
/// shape are read in row-major order, one row per label.
///
/// An id that is negative, fractional or `>= num_classes` is an [`Error::Label`] naming its
/// position (`sample`) and value.
///
/// ```
/// use wgfit::{Error, data::to_categorical};
/// let y = to_categorical(&ndarray::arr1(&[2.0, 0.0]), 3)?;
/// assert_eq!(y, ndarray::arr2(&[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]));
/// let err = to_categorical(&ndarray::arr1(&[1.0, 3.0]), 3).unwrap_err();
/// assert!(matches!(err, Error::Label { sample: 1, label, classes: 3, .. } if label == 3.0));
/// // One past the last id is how one-based labels show: the message says what to do.
/// assert!(err.to_string().ends_with("if the labels run 1..=3, subtract 1: class ids start at 0"));
/// let err = to_categorical(&ndarray::arr1(&[7.0]), 3).unwrap_err();
/// assert!(!err.to_string().contains("subtract 1"));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn to_categorical<S, D>(labels: &ArrayBase<S, D>, num_classes: usize) -> Result<Array2<f32>>
where
    S: Data<Elem = f32>,
    D: Dimension,
{
    let mut out = Array2::zeros((labels.len(), num_classes));
    for (i, &label) in labels.iter().enumerate() {
        if label < 0.0 || label.fract() != 0.0 || label as usize >= num_classes {
            return Err(Error::Label {
                batch: None,
                sample: i,
                label,
                classes: num_classes,
            });
        }
        out[[i, label as usize]] = 1.0;
    }
    Ok(out)
}
