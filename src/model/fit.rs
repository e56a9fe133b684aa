//! `fit` on arrays, datasets and generators: each makes its sources (checking all data it can
//! before the first step) and drives the one loop in `run.rs`.

use ndarray::ArrayViewD;

use super::arrays::{Arrays, XY};
use super::batch::Spec;
use super::functional::{Model, not_compiled};
use super::history::History;
use super::options::FitOptions;
use super::run::Run;
use super::sources::{ArraySource, DatasetSource, GeneratorSource, MakeEpoch, Source};
use super::split::{cut_at, split_at};
use crate::data::SequenceDataset;
use crate::error::{Error, Result};

/// Views of each input's and each output's arrays.
type Views<'a> = (Vec<ArrayViewD<'a, f32>>, Vec<ArrayViewD<'a, f32>>);

/// Keras's default batch size.
pub(super) const DEFAULT_BATCH: usize = 32;

pub(super) fn positive(name: &str, value: Option<usize>) -> Result<()> {
    if value == Some(0) {
        return Err(Error::Config(format!("{name} must be at least 1")));
    }
    Ok(())
}

/// The options every source honours the same way, checked.
fn check_common(opts: &FitOptions) -> Result<()> {
    positive("batch_size", opts.batch_size)?;
    positive("steps_per_epoch", opts.steps_per_epoch)?;
    if !(0.0..1.0).contains(&opts.validation_split) {
        return Err(Error::Config(format!(
            "validation_split must be in [0, 1), got {}",
            opts.validation_split
        )));
    }
    if opts.validation_data.is_some() && opts.validation_dataset.is_some() {
        return Err(Error::Config(
            "validation_data and validation_dataset are both set; give one".into(),
        ));
    }
    Ok(())
}

/// Options a dataset or generator makes its own: setting them for one is an error naming
/// the option.
fn refuse_batching(opts: &FitOptions, source: &str, how: &str) -> Result<()> {
    let set = [
        ("batch_size", opts.batch_size.is_some()),
        ("shuffle", opts.shuffle.is_some()),
        ("seed", opts.seed.is_some()),
        ("validation_split", opts.validation_split > 0.0),
        ("sample_weight", opts.sample_weight.is_some()),
    ];
    if let Some((name, _)) = set.iter().find(|(_, on)| *on) {
        return Err(Error::Config(format!(
            "FitOptions::{name} does not apply to {source}: {how}"
        )));
    }
    Ok(())
}

pub(super) fn views<'a>(arrays: &'a Arrays<'_>) -> Vec<ArrayViewD<'a, f32>> {
    arrays.0.iter().map(|a| a.view()).collect()
}

pub(super) fn shapes<'a>(arrays: &'a [ArrayViewD<'_, f32>]) -> Vec<&'a [usize]> {
    arrays
        .iter()
        .map(|a| a.shape().get(1..).unwrap_or(&[]))
        .collect()
}

impl Model {
    pub(super) fn spec(&self) -> Result<Spec> {
        let compiled = self.compiled.as_ref().ok_or_else(not_compiled)?;
        Ok(Spec::of(&self.graph, compiled))
    }

    pub(super) fn device_clone(&self) -> Result<crate::Device> {
        Ok(self
            .compiled
            .as_ref()
            .ok_or_else(not_compiled)?
            .device
            .clone())
    }

    /// The validation source `opts` asks for (arrays or a dataset), checked whole.
    fn validation_source(
        &mut self,
        opts: &mut FitOptions,
        split: Option<(Views<'_>, Option<ArrayViewD<'_, f32>>)>,
    ) -> Result<Option<Box<dyn Source + 'static>>> {
        let device = self.device_clone()?;
        let spec = self.spec()?;
        let batching = (opts.batch_size.unwrap_or(DEFAULT_BATCH), false, 0);
        Ok(
            match (
                opts.validation_data.take(),
                opts.validation_dataset.take(),
                split,
            ) {
                (Some((xs, ys)), _, _) => {
                    let (xs, ys): (Vec<_>, Vec<_>) = (
                        xs.iter().map(|a| a.view()).collect(),
                        ys.iter().map(|a| a.view()).collect(),
                    );
                    Some(Box::new(ArraySource::new(
                        &device,
                        &spec,
                        &xs,
                        Some(&ys),
                        true,
                        batching,
                    )?))
                }
                (None, Some(ds), _) => Some(Box::new(DatasetSource::new(
                    &device,
                    &spec,
                    std::borrow::Cow::Owned(ds),
                    true,
                )?)),
                (None, None, Some(((xs, ys), w))) => {
                    let source = ArraySource::new(&device, &spec, &xs, Some(&ys), true, batching)?;
                    Some(Box::new(match w {
                        Some(w) => source.weighted(&w, true)?,
                        None => source,
                    }))
                }
                (None, None, None) => None,
            },
        )
    }

    /// Trains for `opts.epochs` epochs on inputs `x` and targets `y` (one array each, or one
    /// per input and per output: see [`Arrays`]), as Keras's `model.fit(x, y, ...)`; returns
    /// the per-epoch logs. Targets are one-hot `[N, C]`, class ids `[N]` for the sparse loss,
    /// or values shaped like the output.
    ///
    /// All data (and the validation data) is checked before the first step. Errors:
    /// [`Error::Config`] before `compile`, for `batch_size` 0 or a `validation_split` outside
    /// `[0, 1)`, or a callback monitoring a value the run never logs; [`Error::Empty`] for no
    /// samples; [`Error::Shape`] for an input that does not fit the model or targets that do
    /// not fit its output; [`Error::Length`] when arrays hold different numbers of samples;
    /// [`Error::NonFinite`] for NaN or infinite values; [`Error::Label`] for a class id out of
    /// range; [`Error::Token`] for a token id past an Embedding's vocabulary; each wrapped in
    /// [`Error::Validation`] when it is in the validation data. A callback's error ends
    /// training with it.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new()
    ///     .add(Dense::new(8).activation(Activation::Tanh).input_shape([2]))
    ///     .add(Dense::new(2).activation(Activation::Softmax));
    /// model.compile(&Device::cpu(), Optimizer::adam().learning_rate(0.05), Loss::SparseCategoricalCrossentropy, &[Metric::Accuracy])?;
    /// let x = ndarray::arr2(&[[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    /// let y = ndarray::arr1(&[0.0f32, 1.0, 1.0, 1.0]); // class ids: OR
    /// let history = model.fit(&x, &y, FitOptions::new().epochs(30).verbose(0))?;
    /// assert!(history.loss()[29] < history.loss()[0]);
    /// assert_eq!(history.get("accuracy").unwrap().len(), 30);
    /// let bad = ndarray::arr1(&[0.0f32, 1.0, 2.0, 1.0]); // 2 is not a class of 2 outputs
    /// assert!(matches!(model.fit(&x, &bad, FitOptions::new().verbose(0)), Err(Error::Label { sample: 2, .. })));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn fit<'x, 'y>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        y: impl Into<Arrays<'y>>,
        opts: FitOptions,
    ) -> Result<History> {
        let (x, y) = (x.into(), y.into());
        let mut run = self.run_arrays(&x, &y, opts)?;
        run.advance(self, usize::MAX)?;
        Ok(run.history)
    }

    /// The run `fit` makes for arrays.
    pub(crate) fn run_arrays(
        &mut self,
        x: &Arrays<'_>,
        y: &Arrays<'_>,
        mut opts: FitOptions,
    ) -> Result<Run<'static>> {
        check_common(&opts)?;
        let (xs, ys) = (views(x), views(y));
        if xs.iter().chain(&ys).any(|a| a.ndim() == 0) {
            return Err(Error::Empty {
                what: "x or y (a scalar, not samples)".into(),
                sample: None,
            });
        }
        self.ensure_built(&shapes(&xs))?;
        let n_all = xs.first().map_or(0, |a| a.shape()[0]);
        let split = split_at(n_all, opts.validation_split);
        let weights = opts.sample_weight.take();
        let w = weights.as_ref().map(|w| w.view());
        let held = (opts.validation_split > 0.0).then(|| {
            (
                (
                    xs.iter()
                        .map(|a| cut_at(a, n_all, split, false))
                        .collect::<Vec<_>>(),
                    ys.iter()
                        .map(|a| cut_at(a, n_all, split, false))
                        .collect::<Vec<_>>(),
                ),
                w.as_ref().map(|w| cut_at(w, n_all, split, false)),
            )
        });
        if opts.validation_split > 0.0 && split == 0 && n_all > 0 {
            return Err(Error::Config(format!(
                "validation_split {} leaves no training sample of {n_all}",
                opts.validation_split
            )));
        }
        let (xt, yt): (Vec<_>, Vec<_>) = (
            xs.iter().map(|a| cut_at(a, n_all, split, true)).collect(),
            ys.iter().map(|a| cut_at(a, n_all, split, true)).collect(),
        );
        let device = self.device_clone()?;
        let spec = self.spec()?;
        let batching = (
            opts.batch_size.unwrap_or(DEFAULT_BATCH),
            opts.shuffle.unwrap_or(true),
            opts.seed.unwrap_or_else(crate::seed::random_seed),
        );
        let mut train = ArraySource::new(&device, &spec, &xt, Some(&yt), false, batching)?;
        if let Some(w) = &w {
            train = train.weighted(&cut_at(w, n_all, split, true), false)?;
        }
        let validation = self.validation_source(&mut opts, held)?;
        Run::new(self, Box::new(train), validation, opts)
    }

    /// Trains on a dataset of variable-length sequences, each batch padded to its own longest
    /// sample (Keras's `fit` on a `tf.data` dataset padded per batch). The dataset's batch
    /// size, bucketing and shuffling apply: `opts.batch_size`, `shuffle`, `seed` and
    /// `validation_split` are [`Error::Config`]s here. Every batch is checked before the
    /// first step: errors name the batch and the sample's index in the dataset.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let xs: Vec<_> = (1..=6).map(|t| ndarray::Array2::<f32>::ones((t, 2)).into_dyn()).collect();
    /// let ds = SequenceDataset::new(xs, ndarray::arr1(&[0.0f32, 0.0, 0.0, 1.0, 1.0, 1.0]).into_dyn())?.batch_size(2);
    /// let mut model = Sequential::new()
    ///     .add(Masking::new(0.0).input_shape([None, Some(2)]))
    ///     .add(Lstm::new(4))
    ///     .add(Dense::new(1).activation(Activation::Sigmoid));
    /// model.compile(&Device::cpu(), Optimizer::adam().learning_rate(0.05), Loss::BinaryCrossentropy, &[Metric::Accuracy])?;
    /// let history = model.fit_dataset(&ds, FitOptions::new().epochs(15).verbose(0))?;
    /// assert!(history.loss()[14] < history.loss()[0]);
    /// assert_eq!(model.predict_dataset(&ds)?.shape(), &[6, 1]);
    /// assert!(model.evaluate_dataset(&ds)?.get("accuracy").is_some());
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn fit_dataset(&mut self, ds: &SequenceDataset, opts: FitOptions) -> Result<History> {
        let mut run = self.run_dataset(ds, opts)?;
        run.advance(self, usize::MAX)?;
        Ok(run.history)
    }

    /// The run `fit_dataset` makes.
    pub(crate) fn run_dataset<'a>(
        &mut self,
        ds: &'a SequenceDataset,
        mut opts: FitOptions,
    ) -> Result<Run<'a>> {
        check_common(&opts)?;
        refuse_batching(
            &opts,
            "a SequenceDataset",
            "set it on the dataset (SequenceDataset::batch_size, shuffle, seed) and give validation data as validation_dataset or validation_data",
        )?;
        self.build_for_dataset(ds)?;
        let train = DatasetSource::new(
            &self.device_clone()?,
            &self.spec()?,
            std::borrow::Cow::Borrowed(ds),
            false,
        )?;
        let validation = self.validation_source(&mut opts, None)?;
        Run::new(self, Box::new(train), validation, opts)
    }

    pub(super) fn build_for_dataset(&mut self, ds: &SequenceDataset) -> Result<()> {
        if ds.is_empty() {
            return Err(Error::Empty {
                what: "the SequenceDataset".into(),
                sample: None,
            });
        }
        let (x, _) = ds.padded_batch(&[0]);
        self.ensure_built(&[x.shape().get(1..).unwrap_or(&[])])
    }

    /// Trains on batches from a generator (Keras's `fit` on a Python generator or a
    /// `PyDataset`): `make_epoch(epoch)` is called at the start of each epoch and gives that
    /// epoch's batches, each an [`XY`] (or anything that converts into one, such as an
    /// `(x, y)` pair of arrays). Within a batch every sample has one shape; across batches
    /// the batch size and any free dim (a time axis) may change. Each batch is checked as it
    /// comes, so an error in batch 7 comes after 7 steps (errors name the batch and the row).
    /// An epoch ends when the iterator does or after `opts.steps_per_epoch` batches (needed
    /// for an iterator that never ends). `batch_size`, `shuffle`, `seed` and
    /// `validation_split` are [`Error::Config`]s here.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new()
    ///     .add(Masking::new(0.0).input_shape([None, Some(1)]))
    ///     .add(Lstm::new(3))
    ///     .add(Dense::new(1));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// // Batch b holds b + 1 sequences of b + 2 steps.
    /// let history = model.fit_generator(
    ///     |_epoch| (0..3).map(|b| (ndarray::Array3::<f32>::ones((b + 1, b + 2, 1)), ndarray::Array1::<f32>::zeros(b + 1))),
    ///     FitOptions::new().epochs(2).verbose(0),
    /// )?;
    /// assert_eq!(history.loss().len(), 2);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn fit_generator<'g, F, I, B>(&mut self, make_epoch: F, opts: FitOptions) -> Result<History>
    where
        F: FnMut(usize) -> I + 'g,
        I: IntoIterator<Item = B>,
        I::IntoIter: 'g,
        B: Into<XY> + 'g,
    {
        let mut run = self.run_generator(make_epoch, opts)?;
        run.advance(self, usize::MAX)?;
        Ok(run.history)
    }

    /// The run `fit_generator` makes.
    pub(crate) fn run_generator<'g, F, I, B>(
        &mut self,
        mut make_epoch: F,
        mut opts: FitOptions,
    ) -> Result<Run<'g>>
    where
        F: FnMut(usize) -> I + 'g,
        I: IntoIterator<Item = B>,
        I::IntoIter: 'g,
        B: Into<XY> + 'g,
    {
        check_common(&opts)?;
        refuse_batching(
            &opts,
            "a generator",
            "the generator makes its batches; give validation data as validation_data or validation_dataset",
        )?;
        let mut make: MakeEpoch<'g> =
            Box::new(move |epoch| Box::new(make_epoch(epoch).into_iter().map(Into::into)));
        let compiled = self.compiled.as_ref().ok_or_else(not_compiled)?;
        let mut first = None;
        if compiled.built.is_none() {
            // The input shapes come from the first batch, which is then trained on first.
            let mut batches = make(opts.initial_epoch);
            let xy = batches.next().ok_or_else(|| Error::Empty {
                what: "the generator's first epoch".into(),
                sample: None,
            })?;
            let xs: Vec<ArrayViewD<'_, f32>> = xy.x.iter().map(|a| a.view()).collect();
            self.ensure_built(&shapes(&xs))?;
            first = Some((opts.initial_epoch, std::iter::once(xy).chain(batches)));
        }
        let mut first = first.map(|(e, it)| (e, Box::new(it) as Box<dyn Iterator<Item = XY> + 'g>));
        let make: MakeEpoch<'g> = Box::new(move |epoch| match first.take() {
            Some((e, it)) if e == epoch => it,
            _ => make(epoch),
        });
        let train = GeneratorSource::new(
            &self.device_clone()?,
            &self.spec()?,
            make,
            opts.steps_per_epoch,
            false,
        );
        let validation = self.validation_source(&mut opts, None)?;
        Run::new(self, Box::new(train), validation, opts)
    }
}
