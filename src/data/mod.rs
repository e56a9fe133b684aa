//! Host-side data helpers, as in `keras.utils`, and datasets of variable-length sequences.

mod dataset;
mod pad;

pub use dataset::SequenceDataset;
pub use pad::{pad_feature_sequences, pad_sequences, PadOptions, Padding};

use ndarray::{Array2, ArrayBase, Data, Dimension};

use crate::error::{Error, Result};

/// One-hot rows `[N, num_classes]` for integer class ids (given as f32, as ndarray data
/// usually is); an id that is negative, fractional or `>= num_classes` is an error naming it.
///
/// ```
/// let y = wgfit::data::to_categorical(&ndarray::arr1(&[2.0, 0.0]), 3)?;
/// assert_eq!(y, ndarray::arr2(&[[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]));
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
