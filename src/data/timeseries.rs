//! `timeseries_dataset_from_array`, as `keras.utils.timeseries_dataset_from_array`: sliding
//! windows over one series (data `[N, ...]`, time on axis 0), for forecasting. The windows
//! are kept as start positions and cut when a batch is made.

use ndarray::{Axis, Slice};

use super::dataset::SequenceDataset;
use super::samples::{Samples, check_finite_targets};
use super::sequences::{IntoSequence, IntoTargets};
use crate::error::{Error, Result};

/// Options of [`timeseries_dataset_from_array`], Keras's defaults unless set:
/// `sequence_stride=1, sampling_rate=1, batch_size=128, shuffle=False`, the whole data.
///
/// ```
/// use wgfit::data::TimeseriesOptions;
/// let o = TimeseriesOptions::new().sequence_stride(3).sampling_rate(2).batch_size(16)
///     .start_index(10).end_index(90).shuffle(true).seed(7);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeseriesOptions {
    sequence_stride: usize,
    sampling_rate: usize,
    batch_size: usize,
    shuffle: bool,
    seed: Option<u64>,
    start_index: Option<usize>,
    end_index: Option<usize>,
}

impl Default for TimeseriesOptions {
    fn default() -> Self {
        TimeseriesOptions {
            sequence_stride: 1,
            sampling_rate: 1,
            batch_size: 128,
            shuffle: false,
            seed: None,
            start_index: None,
            end_index: None,
        }
    }
}

impl TimeseriesOptions {
    /// Keras's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps between the starts of successive windows (Keras's `sequence_stride`, default 1).
    #[must_use]
    pub fn sequence_stride(mut self, s: usize) -> Self {
        self.sequence_stride = s;
        self
    }

    /// Steps between successive steps within a window (`sampling_rate`, default 1).
    #[must_use]
    pub fn sampling_rate(mut self, r: usize) -> Self {
        self.sampling_rate = r;
        self
    }

    /// Windows per batch (default 128); the last batch may be smaller.
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Shuffle the windows every epoch (default off: chronological order). Keras shuffles
    /// with TensorFlow's generator, so the orders differ; the windows are the same.
    #[must_use]
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    /// The shuffling's seed (default: [`set_random_seed`](crate::set_random_seed)'s).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Steps before `i` are not used (`start_index`; must be below the data's length).
    #[must_use]
    pub fn start_index(mut self, i: usize) -> Self {
        self.start_index = Some(i);
        self
    }

    /// Steps from `i` on are not used (`end_index`, exclusive; as in Keras it must be above 0
    /// and `start_index`, and below the data's length).
    #[must_use]
    pub fn end_index(mut self, i: usize) -> Self {
        self.end_index = Some(i);
        self
    }
}

/// Sliding windows over `data: [N]` or `[N, F]` (time on axis 0; any [`IntoSequence`]), as
/// `keras.utils.timeseries_dataset_from_array(data, targets, sequence_length, ...)`: window
/// `k` holds steps `p, p + r, ..., p + (sequence_length - 1) * r` of `data[start..end]`,
/// where `p = k * sequence_stride` and `r = sampling_rate`, and its target is
/// `targets[start + p]`. Windows that would run past `end` are left out, and with targets so
/// are those past `targets.len()` (Keras's `min(num_seqs, len(targets))`).
///
/// The result is a [`SequenceDataset`] (no bucketing: every window has one length) for
/// `fit_dataset`, `evaluate_dataset` and `predict_dataset`; with `targets` `None` (write
/// `None::<Vec<f32>>`) it holds inputs only, for `predict_dataset`. As in Keras, windows of
/// `[N]` data are `[sequence_length]`, batches `[B, sequence_length]`; give a univariate
/// series to an RNN as `[N, 1]` (`data.insert_axis(Axis(1))`).
///
/// # Errors
/// [`Error::Config`] as Keras raises `ValueError`: `sequence_length`, `sampling_rate`,
/// `sequence_stride` or `batch_size` 0, `sampling_rate` or `sequence_stride` not below the
/// data's length, `start_index` not below it, `end_index` 0, not above `start_index` or not
/// below the length. [`Error::Empty`] when no window fits; [`Error::Data`] for 0-D data, or
/// targets too short for a window's start; [`Error::NonFinite`] for NaN or infinite targets.
///
/// ```
/// use ndarray::Axis;
/// use wgfit::data::{TimeseriesOptions, timeseries_dataset_from_array};
/// // Keras's example 2: the past 10 steps predict the next one.
/// let data: Vec<f32> = (0..100).map(|i| i as f32).collect();
/// let ds = timeseries_dataset_from_array(&data[..90], Some(&data[10..]), 10, TimeseriesOptions::new())?;
/// let (x, y) = ds.padded_batch(&[0, 1]);
/// assert_eq!(x.index_axis(Axis(0), 0).iter().copied().collect::<Vec<_>>(), data[..10]);
/// assert_eq!(y.iter().copied().collect::<Vec<_>>(), vec![10.0, 11.0]);
/// assert_eq!(ds.len(), 81);
/// // Example 1: sampling_rate 2, stride 3; indices 0..99.
/// let opts = TimeseriesOptions::new().sampling_rate(2).sequence_stride(3);
/// let ds = timeseries_dataset_from_array(&data[..99], None::<Vec<f32>>, 10, opts)?;
/// let second = ds.padded_batch(&[1]).0;
/// assert_eq!(second.iter().copied().collect::<Vec<_>>(), vec![3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0, 19.0, 21.0]);
/// assert_eq!(ds.padded_batch(&[ds.len() - 1]).0[[0, 0]], 78.0); // the last window starts at 78
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn timeseries_dataset_from_array<'a, T: IntoTargets>(
    data: impl IntoSequence<'a>,
    targets: Option<T>,
    sequence_length: usize,
    options: TimeseriesOptions,
) -> Result<SequenceDataset> {
    let data = data.into_sequence();
    if data.ndim() == 0 {
        return Err(Error::Data(
            "timeseries_dataset_from_array: data is a scalar; it must be [N] or [N, F], time on \
             axis 0"
                .into(),
        ));
    }
    let n = data.shape()[0];
    let o = options;
    let fail = |msg: String| {
        Err(Error::Config(format!(
            "timeseries_dataset_from_array: {msg}"
        )))
    };
    let start = o.start_index.unwrap_or(0);
    if start > 0 && start >= n {
        return fail(format!(
            "start_index must be lower than the length of the data; got start_index={start} \
             for data of length {n}"
        ));
    }
    if let Some(end) = o.end_index {
        if end == 0 {
            return fail("end_index must be higher than 0; got end_index=0".into());
        }
        if start > 0 && end <= start {
            return fail(format!(
                "end_index must be higher than start_index; got start_index={start} and \
                 end_index={end}"
            ));
        }
        if end >= n {
            return fail(format!(
                "end_index must be lower than the length of the data; got end_index={end} \
                 for data of length {n}"
            ));
        }
    }
    for (name, v) in [
        ("sampling_rate", o.sampling_rate),
        ("sequence_stride", o.sequence_stride),
    ] {
        if v == 0 {
            return fail(format!("{name} must be higher than 0; got {name}=0"));
        }
        if v >= n {
            return fail(format!(
                "{name} must be lower than the length of the data; got {name}={v} for data \
                 of length {n}"
            ));
        }
    }
    if sequence_length == 0 || o.batch_size == 0 {
        return fail(format!(
            "sequence_length and batch_size must be at least 1; got sequence_length=\
             {sequence_length}, batch_size={}",
            o.batch_size
        ));
    }
    let end = o.end_index.unwrap_or(n);
    let span = (sequence_length - 1) * o.sampling_rate;
    let mut windows = (end - start).saturating_sub(span);
    let targets = targets.map(IntoTargets::into_targets);
    if let Some(t) = &targets {
        if t.ndim() == 0 {
            return Err(Error::Data(
                "timeseries_dataset_from_array: targets is a scalar; it must be [N] or [N, ...]"
                    .into(),
            ));
        }
        windows = windows.min(t.shape()[0]);
    }
    let starts: Vec<usize> = (0..windows).step_by(o.sequence_stride).collect();
    let Some(&last) = starts.last() else {
        return Err(Error::Empty {
            what: format!(
                "timeseries_dataset_from_array: no window of {sequence_length} steps at \
                 sampling_rate {} (a span of {} steps) fits in steps {start}..{end} of the \
                 data (or in the targets), so the dataset",
                o.sampling_rate,
                span + 1
            ),
            sample: None,
        });
    };
    let y = match targets {
        Some(t) => {
            if start + last >= t.shape()[0] {
                return Err(Error::Data(format!(
                    "timeseries_dataset_from_array: window {} starts at step {} and takes \
                     targets[{}], but targets has {} entries (targets[i] is the target of \
                     the window starting at step i of data)",
                    starts.len() - 1,
                    start + last,
                    start + last,
                    t.shape()[0]
                )));
            }
            let rows: Vec<usize> = starts.iter().map(|&p| start + p).collect();
            let y = t.select(Axis(0), &rows);
            check_finite_targets(&y)?;
            Some(y)
        }
        None => None,
    };
    let data = data.slice_axis(Axis(0), Slice::from(start..end)).to_owned();
    let samples = Samples::Windows {
        data,
        starts,
        length: sequence_length,
        rate: o.sampling_rate,
    };
    let ds = SequenceDataset::of(samples, y)
        .batch_size(o.batch_size)
        .bucket_by_length(false)
        .shuffle(o.shuffle);
    Ok(match o.seed {
        Some(seed) => ds.seed(seed),
        None => ds,
    })
}
