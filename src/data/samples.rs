//! Where a `SequenceDataset`'s samples live: a list of sequences `[T_i, ...]`, or windows
//! over one series (from `timeseries_dataset_from_array`), kept as start positions so a
//! window is cut only when its batch is made (Keras's own trick: `sequence_length` copies of
//! a long series would not fit in memory).

use ndarray::{ArrayD, ArrayViewD, Axis, CowArray, IxDyn, Slice};

use crate::error::{Error, Result, ShapeError};

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
    /// The sequences of a dataset whose targets are `y`, checked: at least one, one per
    /// target, each `[T]` or `[T, F]` (the `F` of sequence 0) with a step, all finite.
    pub(super) fn checked(xs: Vec<CowArray<'_, f32, IxDyn>>, y: &ArrayD<f32>) -> Result<Self> {
        let Some(first) = xs.first() else {
            return Err(Error::Empty {
                what: "the SequenceDataset".into(),
                sample: None,
            });
        };
        if y.ndim() == 0 || y.shape()[0] != xs.len() {
            return Err(Error::Length {
                what: "SequenceDataset".into(),
                x: xs.len(),
                y: y.shape().first().copied().unwrap_or(0),
            });
        }
        check_finite_targets(y)?;
        let tail = first.shape().get(1..).unwrap_or(&[]).to_vec();
        for (i, s) in xs.iter().enumerate() {
            if s.ndim() == 0 || !(1..=2).contains(&s.ndim()) || s.shape()[1..] != tail[..] {
                let mut expected = vec![None];
                expected.extend(tail.iter().map(|&d| Some(d)));
                return Err(ShapeError::new(expected, s.shape().to_vec())
                    .at_sample(i)
                    .because("every sequence must be [T] or [T, F] with the F of sequence 0")
                    .into());
            }
            if s.shape()[0] == 0 {
                return Err(Error::Empty {
                    what: "a sequence".into(),
                    sample: Some(i),
                });
            }
            if s.iter().any(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: "x",
                    batch: None,
                    sample: i,
                });
            }
        }
        Ok(Samples::Sequences(
            xs.into_iter().map(CowArray::into_owned).collect(),
        ))
    }

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

/// NaN or an infinity in the targets is an error naming the sample.
pub(super) fn check_finite_targets(y: &ArrayD<f32>) -> Result<()> {
    match y
        .outer_iter()
        .enumerate()
        .find(|(_, t)| t.iter().any(|v| !v.is_finite()))
    {
        Some((i, _)) => Err(Error::NonFinite {
            what: "y",
            batch: None,
            sample: i,
        }),
        None => Ok(()),
    }
}
