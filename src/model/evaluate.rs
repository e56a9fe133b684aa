//! `evaluate`, `predict` and `train_on_batch`: one epoch of the loop over arrays or a dataset,
//! evaluating, predicting (each output's rows put back in the data's order) or taking one
//! step.

use ndarray::{ArrayD, ArrayViewD, Axis};

use super::arrays::Arrays;
use super::epoch::{Epoch, Mode};
use super::fit::{DEFAULT_BATCH, positive, shapes, views};
use super::functional::Model;
use super::history::Evaluation;
use super::sources::{ArraySource, DatasetSource, Source};
use crate::data::SequenceDataset;
use crate::error::{Error, Result};

impl Model {
    /// Loss and metrics on `x`, `y` in batches of 32 (Keras's `model.evaluate(x, y)`),
    /// without training; checked as in [`Model::fit`], with the same errors.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// model.set_weights(&[ndarray::arr2(&[[2.0f32]]).into_dyn(), ndarray::arr1(&[0.0f32]).into_dyn()])?;
    /// let x = ndarray::arr2(&[[1.0f32], [2.0]]);
    /// let eval = model.evaluate(&x, &ndarray::arr1(&[2.0f32, 5.0]))?; // predictions 2 and 4
    /// assert!((eval.loss - 0.5).abs() < 1e-6); // (0² + 1²) / 2
    /// let short = ndarray::arr1(&[2.0f32]);
    /// assert!(matches!(model.evaluate(&x, &short), Err(Error::Length { x: 2, y: 1, .. })));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn evaluate<'x, 'y>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        y: impl Into<Arrays<'y>>,
    ) -> Result<Evaluation> {
        let (x, y) = (x.into(), y.into());
        let mut source = self.array_source(&views(&x), Some(&views(&y)), DEFAULT_BATCH)?;
        Epoch::new(self, 0, Mode::Evaluate, None)?.run(self, &mut source)
    }

    /// [`Model::evaluate`] with each sample's loss and metrics weighted by `w: [N]` (Keras's
    /// `evaluate(x, y, sample_weight=w)`): a batch's loss is `Σ w·loss / batch size`;
    /// metrics are not weighted, as Keras's `metrics=`.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// model.set_weights(&[ndarray::arr2(&[[2.0f32]]).into_dyn(), ndarray::arr1(&[0.0f32]).into_dyn()])?;
    /// let x = ndarray::arr2(&[[1.0f32], [2.0]]);
    /// let y = ndarray::arr1(&[2.0f32, 5.0]); // squared errors 0 and 1
    /// let eval = model.evaluate_weighted(&x, &y, &ndarray::arr1(&[1.0f32, 3.0]))?;
    /// assert!((eval.loss - 1.5).abs() < 1e-6); // (1·0 + 3·1) / 2
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn evaluate_weighted<'x, 'y, S, D>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        y: impl Into<Arrays<'y>>,
        w: &ndarray::ArrayBase<S, D>,
    ) -> Result<Evaluation>
    where
        S: ndarray::Data<Elem = f32>,
        D: ndarray::Dimension,
    {
        let (x, y) = (x.into(), y.into());
        let source = self.array_source(&views(&x), Some(&views(&y)), DEFAULT_BATCH)?;
        let mut source = source.weighted(&w.view().into_dyn(), false)?;
        Epoch::new(self, 0, Mode::Evaluate, None)?.run(self, &mut source)
    }

    /// Loss and metrics over a dataset (Keras's `evaluate` on a dataset), in the dataset's
    /// epoch-0 batches; errors as in [`Model::fit_dataset`].
    pub fn evaluate_dataset(&mut self, ds: &SequenceDataset) -> Result<Evaluation> {
        self.build_for_dataset(ds)?;
        let mut source = DatasetSource::new(
            &self.device_clone()?,
            &self.spec()?,
            std::borrow::Cow::Borrowed(ds),
            false,
        )?;
        Epoch::new(self, 0, Mode::Evaluate, None)?.run(self, &mut source)
    }

    fn array_source(
        &mut self,
        xs: &[ArrayViewD<'_, f32>],
        ys: Option<&[ArrayViewD<'_, f32>]>,
        batch_size: usize,
    ) -> Result<ArraySource> {
        positive("batch_size", Some(batch_size))?;
        if xs.iter().any(|a| a.ndim() == 0) {
            return Err(Error::Empty {
                what: "x (a scalar, not samples)".into(),
                sample: None,
            });
        }
        self.ensure_built(&shapes(xs))?;
        ArraySource::new(
            &self.device_clone()?,
            &self.spec()?,
            xs,
            ys,
            false,
            (batch_size, false, 0),
        )
    }

    /// The model's output `[N, ...output]` for inputs `x` in batches of 32 (Keras's
    /// `model.predict(x)`); a model with several outputs answers with
    /// [`predict_many`](Model::predict_many). Errors: [`Error::Config`] before `compile` or
    /// for a model of several outputs, and `x`'s errors as in [`Model::fit`].
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new()
    ///     .add(Flatten::new().input_shape([2, 3]))
    ///     .add(Dense::new(4).activation(Activation::Sigmoid));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::BinaryCrossentropy, &[])?;
    /// let y = model.predict(&ndarray::Array3::<f32>::ones((5, 2, 3)))?;
    /// assert_eq!(y.shape(), &[5, 4]);
    /// assert!(y.iter().all(|&p| p > 0.0 && p < 1.0));
    /// let wrong = ndarray::Array3::<f32>::ones((5, 3, 2));
    /// assert!(matches!(model.predict(&wrong), Err(Error::Shape(_))));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn predict<'x>(&mut self, x: impl Into<Arrays<'x>>) -> Result<ArrayD<f32>> {
        self.predict_batched(x, DEFAULT_BATCH)
    }

    /// [`Model::predict`] with a batch size (Keras's `predict(x, batch_size=...)`); 0 is an
    /// [`Error::Config`]. The result does not depend on the batch size.
    pub fn predict_batched<'x>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        batch_size: usize,
    ) -> Result<ArrayD<f32>> {
        let mut outs = self.predict_many_batched(x, batch_size)?;
        if outs.len() != 1 {
            return Err(Error::Config(format!(
                "the model has {} outputs: use predict_many",
                outs.len()
            )));
        }
        Ok(outs.remove(0))
    }

    /// Every output of the model for inputs `x`, in output order (Keras's `predict` on a
    /// model with several outputs), in batches of 32.
    pub fn predict_many<'x>(&mut self, x: impl Into<Arrays<'x>>) -> Result<Vec<ArrayD<f32>>> {
        self.predict_many_batched(x, DEFAULT_BATCH)
    }

    fn predict_many_batched<'x>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        batch_size: usize,
    ) -> Result<Vec<ArrayD<f32>>> {
        let x = x.into();
        let mut source = self.array_source(&views(&x), None, batch_size)?;
        let n = source.len();
        self.collect_predictions(&mut source, n)
    }

    /// Outputs for every sequence of a dataset, in the dataset's sample order:
    /// `[N, ...output]` (an output with a time axis must then have one length in every batch,
    /// else [`Error::Data`]). Keras's `predict` on a dataset.
    pub fn predict_dataset(&mut self, ds: &SequenceDataset) -> Result<ArrayD<f32>> {
        self.build_for_dataset(ds)?;
        // As Keras's predict, the targets (if any) play no part.
        let mut source = DatasetSource::inputs_only(
            &self.device_clone()?,
            &self.spec()?,
            std::borrow::Cow::Borrowed(ds),
        )?;
        let mut outs = self.collect_predictions(&mut source, ds.len())?;
        if outs.len() != 1 {
            return Err(Error::Config("a dataset model has one output".into()));
        }
        Ok(outs.remove(0))
    }

    /// Runs a predict epoch over `source` (`n` samples), each output's rows put back in the
    /// data's sample order.
    fn collect_predictions(
        &mut self,
        source: &mut dyn Source,
        n: usize,
    ) -> Result<Vec<ArrayD<f32>>> {
        let mut rows: Vec<Vec<Option<ArrayD<f32>>>> = vec![vec![None; n]; self.graph.outputs.len()];
        let mut epoch = Epoch::new(self, 0, Mode::Predict, None)?;
        while let Some((batch, outputs)) = epoch.next(self, source)? {
            for (k, out) in outputs.iter().enumerate() {
                let out = out.to_array_blocking()?;
                for (row, &i) in batch.samples.iter().enumerate() {
                    rows[k][i] = Some(out.index_axis(Axis(0), row).to_owned());
                }
            }
        }
        rows.into_iter()
            .map(|rows| {
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
            })
            .collect()
    }

    /// One training step on one batch (Keras's `model.train_on_batch(x, y)`); returns its
    /// loss before the update (reading it back blocks). Checked as in [`Model::fit`].
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::sgd().learning_rate(0.1), Loss::MeanSquaredError, &[])?;
    /// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
    /// let first = model.train_on_batch(&x, &y)?;
    /// let second = model.train_on_batch(&x, &y)?;
    /// assert!(second < first);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn train_on_batch<'x, 'y>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        y: impl Into<Arrays<'y>>,
    ) -> Result<f32> {
        let (x, y) = (x.into(), y.into());
        let xs = views(&x);
        let n = xs
            .first()
            .map_or(0, |a| a.shape().first().copied().unwrap_or(0));
        let mut source = self.array_source(&xs, Some(&views(&y)), n.max(1))?;
        let mut epoch = Epoch::new(self, 0, Mode::Train, Some(1))?;
        // The loss is read in the step's own submit: one submit, one wait.
        match epoch.next_with(self, &mut source, true)? {
            Some((_, _, Some(snapshot))) => {
                let compiled = self
                    .compiled
                    .as_ref()
                    .ok_or_else(super::functional::not_compiled)?;
                Ok(snapshot.wait(&compiled.heads)?.evaluation.loss)
            }
            _ => Ok(epoch.read(self)?.loss),
        }
    }

    /// One batch of `x`, `y`, checked and on the device (for `gradients`).
    pub(crate) fn one_batch(
        &mut self,
        x: &Arrays<'_>,
        y: &Arrays<'_>,
    ) -> Result<super::batch::Batch> {
        let xs = views(x);
        let n = xs
            .first()
            .map_or(0, |a| a.shape().first().copied().unwrap_or(0));
        let mut source = self.array_source(&xs, Some(&views(y)), n.max(1))?;
        Ok(source.next(0, 0)?.expect("checked: at least one sample"))
    }
}
