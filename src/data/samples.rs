//! Where a `SequenceDataset`'s samples live: a list of sequences `[T_i, ...]`, or windows
//! over one series (from `timeseries_dataset_from_array`), kept as start positions so a
//! window is cut only when its batch is made (Keras's own trick: `sequence_length` copies of
//! a long series would not fit in memory).

use ndarray::{ArrayD, ArrayViewD, Axis, Slice};

#[derive(Debug, Clone)]
pub(super) enum Samples {
    /// One array per sample, `[T_i]` or `[T_i, F]`.
    Sequences(Vec<ArrayD<f32>>),
    /// Windows over `data: [N, ...]`: sample `i` is steps `starts[i]`,
    /// `starts[i] + rate`, ..., `length` of them.
    Windows {
        data: ArrayD<f32>,
        starts: Vec<usize>,
        length: usize,
        rate: usize,
    },
}

impl Samples {
    pub(super) fn len(&self) -> usize {
        match self {
            Samples::Sequences(xs) => xs.len(),
            Samples::Windows { starts, .. } => starts.len(),
        }
    }

    /// Steps in sample `i`.
    pub(super) fn steps(&self, i: usize) -> usize {
        match self {
            Samples::Sequences(xs) => xs[i].shape()[0],
            Samples::Windows { length, .. } => *length,
        }
    }

    /// The shape of one step (`[]` for token ids, `[F]` for feature vectors).
    pub(super) fn step_shape(&self) -> &[usize] {
        match self {
            Samples::Sequences(xs) => &xs[0].shape()[1..],
            Samples::Windows { data, .. } => &data.shape()[1..],
        }
    }

    /// Sample `i`: `[T_i, ...]`.
    pub(super) fn sample(&self, i: usize) -> ArrayViewD<'_, f32> {
        match self {
            Samples::Sequences(xs) => xs[i].view(),
            Samples::Windows {
                data,
                starts,
                length,
                rate,
            } => {
                let end = starts[i] + (length - 1) * rate + 1;
                data.slice_axis(
                    Axis(0),
                    Slice::new(starts[i] as isize, Some(end as isize), *rate as isize),
                )
            }
        }
    }
}
