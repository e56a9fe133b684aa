//! `SequenceDataset`: variable-length sequences with their targets, batched (and shuffled,
//! seeded) so that each batch is padded only to its own longest sample. Bucketing by length
//! puts sequences of similar length together, so a `fit` sees batches of different time
//! lengths, each with little padding.

use ndarray::{ArrayD, Axis, CowArray, IxDyn};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::pad::Padding;
use super::samples::Samples;
use super::sequences::{IntoSequences, IntoTargets};
use crate::error::{Error, Result};

/// Sequences `[T_i]` (token ids), `[T_i, F]` (feature vectors) or univariate series (as
/// `[T_i, 1]`, with [`SequenceDataset::from_series`]) and targets `[N, ...]`, for
/// [`Model::fit_dataset`](crate::Model::fit_dataset) (and `evaluate_dataset`,
/// `predict_dataset`); [`timeseries_dataset_from_array`](crate::data::timeseries_dataset_from_array)
/// makes one of windows over a series. Keras's nearest equivalent is
/// a `tf.data` pipeline with `bucket_by_sequence_length` / `padded_batch`.
///
/// Unlike [`pad_sequences`](crate::data::pad_sequences), which pads everything to the
/// longest sequence, each batch is padded only to its own longest sample, and bucketing
/// (on by default) batches sequences of similar length together.
///
/// ```
/// use ndarray::{arr1, arr2};
/// use wgfit::data::SequenceDataset;
/// let xs = vec![arr2(&[[1.0, 2.0]]).into_dyn(), arr2(&[[3.0, 4.0], [5.0, 6.0]]).into_dyn()];
/// let ds = SequenceDataset::new(xs, arr1(&[0.0, 1.0]).into_dyn())?.batch_size(2);
/// assert_eq!(ds.len(), 2);
/// let (x, y) = ds.padded_batch(&[0, 1]);
/// assert_eq!(x.shape(), &[2, 2, 2]); // padded to the longer sample: 2 steps of 2 features
/// assert_eq!(x[[0, 1, 0]], 0.0);     // sample 0's padding (Post, value 0)
/// assert_eq!(y, arr1(&[0.0, 1.0]).into_dyn());
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SequenceDataset {
    xs: Samples,
    /// `None` for inputs only (`timeseries_dataset_from_array` without targets): predict only.
    y: Option<ArrayD<f32>>,
    batch_size: usize,
    bucket: bool,
    shuffle: bool,
    seed: u64,
    padding: Padding,
    value: f32,
}

/// Time steps a pass over the data computes, padding included: returned by
/// [`SequenceDataset::padding_report`] to show what per-batch padding saves.
///
/// ```
/// use wgfit::data::{PaddingReport, SequenceDataset};
/// let xs: Vec<_> = [1, 1, 8, 8].iter().map(|&t| ndarray::Array2::<f32>::ones((t, 2)).into_dyn()).collect();
/// let ds = SequenceDataset::new(xs, ndarray::Array1::<f32>::zeros(4).into_dyn())?.batch_size(2);
/// let report: PaddingReport = ds.padding_report();
/// assert_eq!((report.real, report.batched, report.global), (18, 18, 32));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaddingReport {
    /// Steps in the samples themselves.
    pub real: usize,
    /// Steps when each batch is padded to its own longest sample (this dataset's batches).
    pub batched: usize,
    /// Steps when every sample is padded to the longest of the whole dataset.
    pub global: usize,
}

impl SequenceDataset {
    /// A dataset of the sequences `xs` (each `[T_i]` token ids or `[T_i, F]` feature vectors,
    /// in any container [`IntoSequences`] takes: `Vec<ArrayD<f32>>`, `&[Vec<f32>]`, the
    /// `Vec<Vec<u32>>` of [`TextVectorization::call_ragged`](crate::text::TextVectorization::call_ragged), ...)
    /// and targets `y: [N, ...]` (anything [`IntoTargets`] takes), shaped as for `fit`
    /// (one-hot rows, class ids or values). Defaults: batch size 32, bucketing and shuffling on
    /// (seed 0), padding `Post` with 0. For sequences in another container (`&[Vec<f32>]`,
    /// `&[ArrayView2<f32>]`, `&ts.series`, ...) call [`SequenceDataset::from_sequences`]; for
    /// series of values given as `[T_i]`, [`SequenceDataset::from_series`].
    ///
    /// Errors: [`Error::Empty`] for no sequences or one of length 0 (naming it),
    /// [`Error::Length`] when `y` has another number of samples, [`Error::Shape`] for a
    /// sequence that is not `[T]` / `[T, F]` or whose `F` differs from sequence 0's,
    /// [`Error::NonFinite`] for NaN or infinite values in `xs` or `y`, and [`Error::Data`] for
    /// a 1-D sequence holding a value that is not a whole number (token ids are; it names
    /// the sequence and step and says to call `from_series`).
    ///
    /// ```
    /// use wgfit::{Error, data::SequenceDataset};
    /// let xs = vec![ndarray::Array2::<f32>::ones((3, 2)).into_dyn(), ndarray::Array2::<f32>::ones((0, 2)).into_dyn()];
    /// let err = SequenceDataset::new(xs, ndarray::arr1(&[0.0, 1.0]).into_dyn()).unwrap_err();
    /// assert!(matches!(err, Error::Empty { sample: Some(1), .. }));
    /// // 1-D sequences are token ids; values say what to call instead.
    /// let err = SequenceDataset::new(vec![ndarray::arr1(&[0.5, 1.0]).into_dyn()], vec![1usize]).unwrap_err();
    /// assert!(err.to_string().contains("SequenceDataset::from_series"));
    /// ```
    pub fn new<'a>(xs: impl IntoSequences<'a>, y: impl IntoTargets) -> Result<Self> {
        Self::from_sequences(xs, y)
    }

    /// [`SequenceDataset::new`] for sequences as a user has them (anything [`IntoSequences`]
    /// takes: `&[Vec<f32>]`, `&[&[f32]]`, `&[ArrayView2<f32>]`, `&ts.series`,
    /// `Vec<Array1<f32>>`, ...), with its checks and defaults: 1-D sequences are token ids.
    ///
    /// ```
    /// use wgfit::data::SequenceDataset;
    /// let (a, b) = (ndarray::Array2::<f32>::ones((3, 2)), ndarray::Array2::<f32>::ones((5, 2)));
    /// let ds = SequenceDataset::from_sequences(&[a.view(), b.view()], ndarray::arr1(&[0.0, 1.0]))?;
    /// assert_eq!(ds.padded_batch(&[0, 1]).0.shape(), &[2, 5, 2]);
    /// let ids = SequenceDataset::from_sequences(&[vec![3.0, 1.0], vec![2.0]], vec![0usize, 1])?;
    /// assert_eq!(ids.padded_batch(&[0, 1]).0.shape(), &[2, 2]);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn from_sequences<'a>(xs: impl IntoSequences<'a>, y: impl IntoTargets) -> Result<Self> {
        let xs = xs.into_sequences();
        for (i, s) in xs.iter().enumerate().filter(|(_, s)| s.ndim() == 1) {
            if let Some((t, v)) = s.iter().enumerate().find(|(_, v)| v.fract() != 0.0) {
                return Err(Error::Data(format!(
                    "SequenceDataset: sequence {i}, step {t} holds {v}, not a token id: 1-D \
                     sequences given to SequenceDataset::new or from_sequences are token ids \
                     (for an Embedding); for series of values call \
                     SequenceDataset::from_series, which takes each [T] as [T, 1]"
                )));
            }
        }
        Self::checked(xs, y.into_targets())
    }

    /// A dataset of univariate series: each 1-D sequence `[T_i]` holds values, taken as
    /// `[T_i, 1]` (what a `Masking` + RNN model with `Input::new([None, Some(1)])` takes);
    /// `[T_i, F]` sequences are taken as they are. Otherwise as [`SequenceDataset::new`].
    ///
    /// ```
    /// use wgfit::data::SequenceDataset;
    /// let series = vec![vec![0.5, 0.25, 0.125], vec![1.5]];
    /// let ds = SequenceDataset::from_series(&series, vec![1usize, 0])?;
    /// assert_eq!(ds.padded_batch(&[0, 1]).0.shape(), &[2, 3, 1]);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn from_series<'a>(xs: impl IntoSequences<'a>, y: impl IntoTargets) -> Result<Self> {
        let xs = xs
            .into_sequences()
            .into_iter()
            .map(|s| {
                if s.ndim() == 1 {
                    s.insert_axis(Axis(1))
                } else {
                    s
                }
            })
            .collect();
        Self::checked(xs, y.into_targets())
    }

    fn checked(xs: Vec<CowArray<'_, f32, IxDyn>>, y: ArrayD<f32>) -> Result<Self> {
        let xs = Samples::checked(xs, &y)?;
        Ok(Self::of(xs, Some(y)))
    }

    /// A dataset of `samples` with Keras's defaults.
    pub(super) fn of(samples: Samples, y: Option<ArrayD<f32>>) -> Self {
        SequenceDataset {
            xs: samples,
            y,
            batch_size: 32,
            bucket: true,
            shuffle: true,
            seed: crate::seed::random_seed(),
            padding: Padding::Post,
            value: 0.0,
        }
    }

    /// Whether the dataset has targets (a `timeseries_dataset_from_array` without targets
    /// has none: `predict_dataset` takes it, `fit_dataset` and `evaluate_dataset` refuse it).
    pub fn has_targets(&self) -> bool {
        self.y.is_some()
    }

    /// Samples per batch (default 32; 0 is taken as 1). The last batch (of a length bucket)
    /// may be smaller.
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Group sequences of similar length into batches (default on): the samples are sorted by
    /// length (after shuffling) and cut into batches, and the batches are shuffled.
    #[must_use]
    pub fn bucket_by_length(mut self, on: bool) -> Self {
        self.bucket = on;
        self
    }

    /// Shuffle every epoch, seeded (default on, seed 0).
    #[must_use]
    pub fn shuffle(mut self, on: bool) -> Self {
        self.shuffle = on;
        self
    }

    /// The seed of the shuffling (default: [`set_random_seed`](crate::set_random_seed)'s, 0 unless
    /// set); epoch `e` uses `seed + e`, so runs repeat exactly.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Where each batch's padding goes (default `Post`; with masking either side gives the
    /// same LSTM result).
    #[must_use]
    pub fn padding(mut self, p: Padding) -> Self {
        self.padding = p;
        self
    }

    /// The padding value (default 0; use the `Masking` layer's mask value).
    #[must_use]
    pub fn pad_value(mut self, v: f32) -> Self {
        self.value = v;
        self
    }

    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// Always false: a dataset holds at least one sequence.
    pub fn is_empty(&self) -> bool {
        self.xs.len() == 0
    }

    /// The sample indices of each batch of epoch `epoch` (every sample exactly once), as
    /// `fit_dataset` sees them.
    ///
    /// ```
    /// use wgfit::data::SequenceDataset;
    /// let xs: Vec<_> = [2, 9, 3, 8].iter().map(|&t| ndarray::Array1::<f32>::ones(t).into_dyn()).collect();
    /// let ds = SequenceDataset::new(xs, ndarray::Array1::<f32>::zeros(4).into_dyn())?.batch_size(2);
    /// let mut batches = ds.batches(0);
    /// batches.iter_mut().for_each(|b| b.sort());
    /// batches.sort();
    /// assert_eq!(batches, vec![vec![0, 2], vec![1, 3]]); // short with short, long with long
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn batches(&self, epoch: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.xs.len()).collect();
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_add(epoch as u64));
        if self.shuffle {
            order.shuffle(&mut rng);
        }
        if self.bucket {
            // Stable: equal lengths keep their shuffled order.
            order.sort_by_key(|&i| self.xs.steps(i));
        }
        let mut batches: Vec<Vec<usize>> = order
            .chunks(self.batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect();
        if self.bucket && self.shuffle {
            batches.shuffle(&mut rng);
        }
        batches
    }

    /// The samples `idx` padded to their own longest length: `x: [B, T_max]` (token ids) or
    /// `[B, T_max, F]`, and their targets `y: [B, ...]` (`[B, 0]` for a dataset without
    /// targets). Panics if an index is out of range.
    pub fn padded_batch(&self, idx: &[usize]) -> (ArrayD<f32>, ArrayD<f32>) {
        let t_max = idx.iter().map(|&i| self.xs.steps(i)).max().unwrap_or(0);
        let mut dims = vec![idx.len(), t_max];
        dims.extend(self.xs.step_shape());
        let mut x = ArrayD::from_elem(IxDyn(&dims), self.value);
        for (row, &i) in idx.iter().enumerate() {
            let s = self.xs.sample(i);
            let len = s.shape()[0];
            let start = match self.padding {
                Padding::Pre => t_max - len,
                Padding::Post => 0,
            };
            let mut dst = x.index_axis_mut(Axis(0), row);
            dst.slice_axis_mut(Axis(0), (start..start + len).into())
                .assign(&s);
        }
        let y = match &self.y {
            Some(y) => y.select(Axis(0), idx),
            None => ArrayD::zeros(IxDyn(&[idx.len(), 0])),
        };
        (x, y)
    }

    /// Steps computed per epoch with this dataset's batches (those of epoch 0) versus padding
    /// everything to the longest sequence, as [`pad_sequences`](crate::data::pad_sequences)
    /// does.
    pub fn padding_report(&self) -> PaddingReport {
        let len = |i: usize| self.xs.steps(i);
        let real = (0..self.len()).map(len).sum();
        let batched = self
            .batches(0)
            .iter()
            .map(|b| b.len() * b.iter().map(|&i| len(i)).max().unwrap_or(0))
            .sum();
        let global = self.len() * (0..self.len()).map(len).max().unwrap_or(0);
        PaddingReport {
            real,
            batched,
            global,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, arr1};

    fn dataset(lengths: &[usize]) -> SequenceDataset {
        let xs: Vec<_> = lengths
            .iter()
            .map(|&t| Array2::<f32>::ones((t, 3)).into_dyn())
            .collect();
        SequenceDataset::new(xs, arr1(&vec![0.0; lengths.len()]).into_dyn()).unwrap()
    }

    #[test]
    fn bucketed_batches_cover_every_sample_once_with_similar_lengths() {
        let lengths: Vec<usize> = (0..50).map(|i| 7 + (i * 13) % 23).collect();
        let ds = dataset(&lengths).batch_size(8);
        for epoch in 0..3 {
            let batches = ds.batches(epoch);
            let mut seen: Vec<usize> = batches.concat();
            seen.sort_unstable();
            assert_eq!(seen, (0..50).collect::<Vec<_>>());
            for b in &batches {
                let (lo, hi) = (
                    b.iter().map(|&i| lengths[i]).min().unwrap(),
                    b.iter().map(|&i| lengths[i]).max().unwrap(),
                );
                assert!(
                    hi - lo <= 6,
                    "epoch {epoch}: a batch spans lengths {lo}..{hi}"
                );
            }
        }
        assert_ne!(ds.batches(0), ds.batches(1), "shuffled per epoch");
        let report = ds.padding_report();
        assert!(
            report.batched < report.global && report.real <= report.batched,
            "{report:?}"
        );
    }

    #[test]
    fn each_batch_is_padded_to_its_own_longest_sample() {
        let ds = dataset(&[3, 5, 2]).padding(Padding::Pre).pad_value(-1.0);
        let (x, _) = ds.padded_batch(&[0, 2]);
        assert_eq!(x.shape(), &[2, 3, 3]);
        assert_eq!(x[[1, 0, 0]], -1.0);
        assert_eq!(x[[1, 1, 0]], 1.0);
    }

    #[test]
    fn an_empty_sequence_or_mismatched_features_name_the_sample() {
        let xs = vec![
            Array2::<f32>::ones((2, 3)).into_dyn(),
            Array2::<f32>::ones((0, 3)).into_dyn(),
        ];
        let err = SequenceDataset::new(xs, arr1(&[0.0, 1.0]).into_dyn()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Empty {
                    sample: Some(1),
                    ..
                }
            ),
            "{err}"
        );
        let xs = vec![
            Array2::<f32>::ones((2, 3)).into_dyn(),
            Array2::<f32>::ones((4, 2)).into_dyn(),
        ];
        match SequenceDataset::new(xs, arr1(&[0.0, 1.0]).into_dyn()).unwrap_err() {
            Error::Shape(e) => {
                assert_eq!(e.sample, Some(1));
                assert_eq!(e.actual, vec![4, 2]);
            }
            e => panic!("{e:?}"),
        }
    }
}
