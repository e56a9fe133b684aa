//! `fit`, `evaluate` and `predict` on a `SequenceDataset`: each batch is padded on the host to
//! its own longest sample, checked against the model's input spec (errors name the batch),
//! uploaded, and trained like any other batch.

use ndarray::{ArrayD, Axis};

use super::callback_calls::{BatchLosses, epoch_end};
use super::data::dense_targets;
use super::history::{Evaluation, History};
use super::options::FitOptions;
use super::sequential::{Compiled, Sequential, not_compiled};
use super::step::{Sums, forward, observe, step};
use crate::data::SequenceDataset;
use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::progress::Progress;
use crate::tensor::Tensor;

/// Pads batch `b`, validates it and uploads it.
fn batch_tensors(
    layers: &mut [Box<dyn Layer>],
    compiled: &Compiled,
    ds: &SequenceDataset,
    idx: &[usize],
    b: usize,
) -> Result<(Tensor, Tensor)> {
    let (x, y) = ds.padded_batch(idx);
    let built = compiled.built.as_ref().ok_or_else(not_compiled)?;
    built.spec.check_batch(b, x.shape())?;
    // Errors name the sample by its index in the dataset, not its row in the batch.
    let y = dense_targets(
        compiled.loss,
        &built.output,
        &y.view(),
        idx.len(),
        &format!("batch {b}"),
        Some(b),
    )
    .map_err(|e| match e {
        Error::Label {
            batch,
            sample,
            label,
            classes,
        } => Error::Label {
            batch,
            sample: idx[sample],
            label,
            classes,
        },
        Error::NonFinite {
            what,
            batch,
            sample,
        } => Error::NonFinite {
            what,
            batch,
            sample: idx[sample],
        },
        other => other,
    })?;
    observe(layers, Some(&x), b, idx)?;
    Ok((
        Tensor::from_array(&compiled.device, &x)?,
        Tensor::from_array(&compiled.device, &y)?,
    ))
}

/// Where a training epoch reports: the progress bar, and the callbacks that ask for batch
/// losses (`stopped` gets the first stop reason one of them gives).
struct Reporting<'a, 'b> {
    progress: &'a mut Progress,
    batch_losses: Option<BatchLosses<'b>>,
    stopped: Option<String>,
}

/// One pass over `ds`: training when `report` is given (ending early when a callback stops
/// it at a batch), else evaluation; the loss and metrics over the samples seen.
fn run_epoch(
    layers: &mut [Box<dyn Layer>],
    compiled: &mut Compiled,
    ds: &SequenceDataset,
    epoch: usize,
    mut report: Option<&mut Reporting<'_, '_>>,
) -> Result<Evaluation> {
    let train = report.is_some();
    let sums = Sums::new(&compiled.device, compiled.metrics.len())?;
    let mut seen = 0;
    for (b, idx) in ds.batches(epoch).iter().enumerate() {
        let (xb, yb) = batch_tensors(layers, compiled, ds, idx, b)?;
        step(layers, compiled, &xb, &yb, &sums, train)?;
        seen += idx.len();
        if let Some(r) = report.as_deref_mut() {
            if let Some(losses) = r.batch_losses.as_mut()
                && let Some(why) = losses.batch_end(compiled, &sums, epoch, b, idx.len())?
            {
                r.stopped = Some(why);
                break;
            }
            if r.progress.wants_update(b + 1) {
                r.progress
                    .update(b + 1, &sums.read(compiled, seen)?.logs(""));
            }
        }
    }
    sums.read(compiled, seen)
}

impl Sequential {
    fn build_for(&mut self, ds: &SequenceDataset) -> Result<()> {
        let (x, _) = ds.padded_batch(&[0]);
        self.ensure_built(x.shape())
    }

    /// Trains on a dataset of variable-length sequences for `opts.epochs` epochs; the
    /// dataset's own batch size, shuffling and bucketing apply (`opts.batch_size` and
    /// `opts.shuffle` do not). `opts.validation_dataset` is evaluated after each epoch.
    /// Keras's equivalent is `fit` on a `tf.data` dataset padded per batch.
    ///
    /// Each batch is checked as it comes: errors name the batch and the sample's index in
    /// the dataset ([`Error::Shape`], [`Error::Label`], [`Error::Token`]). `validation_data`
    /// or `validation_split` in `opts` is an [`Error::Config`]. Callbacks are called as in
    /// [`Sequential::fit`] (`on_batch_end` for those that ask, then `on_epoch_end`).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let xs = (1..=6).map(|t| ndarray::Array2::<f32>::ones((t, 2)).into_dyn()).collect();
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
        if opts.validation_data.is_some() || opts.validation_split > 0.0 {
            return Err(Error::Config(
                "fit_dataset takes its validation data as FitOptions::validation_dataset(..)"
                    .into(),
            ));
        }
        self.build_for(ds)?;
        let mut history = History::default();
        let steps = ds.batches(0).len();
        for epoch in opts.initial_epoch..opts.epochs {
            let mut progress = Progress::new(opts.verbose, epoch, opts.epochs, steps);
            let mut report = Reporting {
                progress: &mut progress,
                batch_losses: BatchLosses::new(&opts.callbacks),
                stopped: None,
            };
            let (layers, compiled) = self.parts()?;
            let mut logs = run_epoch(layers, compiled, ds, epoch, Some(&mut report))?.logs("");
            history.stopped = report.stopped;
            if let Some(val) = &opts.validation_dataset {
                logs.extend(run_epoch(layers, compiled, val, 0, None)?.logs("val_"));
            }
            progress.finish(&logs);
            history.push(&logs);
            if epoch_end(self, &opts, epoch, &logs, &mut history)? {
                break;
            }
        }
        Ok(history)
    }

    /// Loss and metrics over a dataset (Keras's `evaluate` on a dataset), in the dataset's
    /// epoch-0 batches; errors as in [`Sequential::fit_dataset`].
    pub fn evaluate_dataset(&mut self, ds: &SequenceDataset) -> Result<Evaluation> {
        self.build_for(ds)?;
        let (layers, compiled) = self.parts()?;
        run_epoch(layers, compiled, ds, 0, None)
    }

    /// Outputs for every sequence, in the dataset's sample order: `[N, ...output]` (the
    /// output must not have a time axis, since samples differ in length: that is an
    /// [`Error::Data`] unless every batch has the same length). Keras's `predict` on a dataset.
    pub fn predict_dataset(&mut self, ds: &SequenceDataset) -> Result<ArrayD<f32>> {
        self.build_for(ds)?;
        let (layers, compiled) = self.parts()?;
        let mut rows: Vec<Option<ArrayD<f32>>> = vec![None; ds.len()];
        for (b, idx) in ds.batches(0).iter().enumerate() {
            let (x, _) = ds.padded_batch(idx);
            compiled
                .built
                .as_ref()
                .ok_or_else(not_compiled)?
                .spec
                .check_batch(b, x.shape())?;
            observe(layers, Some(&x), b, idx)?;
            let xb = Tensor::from_array(&compiled.device, &x)?;
            let out = forward(layers, &xb, false)?.0.to_array_blocking()?;
            for (row, &i) in idx.iter().enumerate() {
                rows[i] = Some(out.index_axis(Axis(0), row).to_owned());
            }
        }
        let rows: Vec<ArrayD<f32>> = rows
            .into_iter()
            .map(|r| r.expect("every sample is in one batch"))
            .collect();
        let views: Vec<_> = rows.iter().map(|r| r.view().insert_axis(Axis(0))).collect();
        ndarray::concatenate(Axis(0), &views).map_err(|e| {
            Error::Data(format!(
                "joining predictions: {e} (outputs with a time axis differ in length)"
            ))
        })
    }
}
