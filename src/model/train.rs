//! `fit`, `evaluate`, `predict` and `train_on_batch`. A training step records forward, loss,
//! backward and the optimizer updates, then submits once; the loss and metric sums stay on
//! the device and are read at the end of the epoch (and a few times a second for the bar).

use ndarray::{ArrayBase, ArrayD, Axis, Data, Dimension};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::callback_calls::{BatchLosses, epoch_end};
use super::data::{Source, check_x, dense_targets};
use super::history::{Evaluation, History};
use super::options::FitOptions;
use super::sequential::{Compiled, Sequential};
use super::step::{Sums, forward, observe, step};
use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::progress::Progress;
use crate::tensor::Tensor;

/// Validated samples of one data set, with the per-sample dims of x and of the targets.
pub(super) struct Prepared {
    pub(super) source: Source,
    pub(super) n: usize,
    pub(super) x_dims: Vec<usize>,
    pub(super) y_dims: Vec<usize>,
}

pub(super) fn prepare(
    model: &mut Sequential,
    x: ndarray::ArrayViewD<'_, f32>,
    y: ndarray::ArrayViewD<'_, f32>,
    what: &str,
) -> Result<Prepared> {
    model.ensure_built(x.shape())?;
    let (_, compiled) = model.parts()?;
    let built = compiled.built.as_ref().expect("ensure_built");
    let n = check_x(&built.spec, &x, what)?;
    let y = dense_targets(compiled.loss, &built.output, &y, n, what, None)?;
    let (x_dims, y_dims) = (x.shape()[1..].to_vec(), y.shape()[1..].to_vec());
    let host = model.layers[0].needs_host_input();
    let (_, compiled) = model.parts()?;
    Ok(Prepared {
        source: Source::new(&compiled.device, x.to_owned(), y, host)?,
        n,
        x_dims,
        y_dims,
    })
}

/// All of `x`, `y` as one validated batch on the device (shown to the first layer when it
/// asks); returns x, y and the sample count.
pub(super) fn one_batch(
    model: &mut Sequential,
    x: ndarray::ArrayViewD<'_, f32>,
    y: ndarray::ArrayViewD<'_, f32>,
) -> Result<(Tensor, Tensor, usize)> {
    let data = prepare(model, x, y, "x")?;
    let (layers, compiled) = model.parts()?;
    let idx: Vec<usize> = (0..data.n).collect();
    let (xb, yb, host_x) = data
        .source
        .batch(&compiled.device, &idx, &data.x_dims, &data.y_dims)?;
    observe(layers, host_x.as_ref(), 0, &idx)?;
    Ok((xb, yb, data.n))
}

/// The sample order of epoch `epoch`: a function of the seed and the epoch alone, so a run
/// resumed at any epoch sees the batches an uninterrupted run would.
pub(super) fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let mut rng =
            StdRng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
    }
    order
}

/// The training samples of `n` before a `validation_split` of `fraction` (in `[0, 1)`), as
/// Keras computes it: `floor(n * (1.0 - fraction))` in f64, with the f32 read as the decimal it
/// prints as (0.2f32 as 0.2, not 0.200000003), so 5 samples at 0.2 keep 4 and hold out 1.
fn split_at(n: usize, fraction: f32) -> usize {
    let fraction: f64 = fraction.to_string().parse().unwrap_or(f64::from(fraction));
    (((n as f64) * (1.0 - fraction)).floor() as usize).min(n)
}

pub(super) fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::Config("batch_size must be at least 1".into()));
    }
    Ok(())
}

impl Sequential {
    /// Trains for `opts.epochs` epochs on `x: [N, ...input]` and targets `y` (one-hot
    /// `[N, C]`, class ids `[N]` for the sparse loss, or values shaped like the output), as
    /// Keras's `model.fit(x, y, ...)`; returns the per-epoch logs.
    ///
    /// All data is checked before the first step. Errors: [`Error::Config`] before `compile`,
    /// for `batch_size` 0 or a `validation_split` outside `[0, 1)`; [`Error::Empty`] for no
    /// samples; [`Error::Shape`] for `x` that does not fit the model's input or `y` that does
    /// not fit its output; [`Error::Length`] when `x` and `y` hold different numbers of
    /// samples; [`Error::NonFinite`] for NaN or infinite values; [`Error::Label`] for a class
    /// id out of range. A callback's error ends training with it.
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
    pub fn fit<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
        opts: FitOptions,
    ) -> Result<History>
    where
        S1: Data<Elem = f32>,
        D1: Dimension,
        S2: Data<Elem = f32>,
        D2: Dimension,
    {
        check_batch_size(opts.batch_size)?;
        let (x, y) = (x.view().into_dyn(), y.view().into_dyn());
        if x.ndim() == 0 || y.ndim() == 0 {
            return Err(Error::Empty {
                what: "x or y (a scalar, not samples)".into(),
                sample: None,
            });
        }
        if !(0.0..1.0).contains(&opts.validation_split) {
            return Err(Error::Config(format!(
                "validation_split must be in [0, 1), got {}",
                opts.validation_split
            )));
        }
        let n_all = x.shape().first().copied().unwrap_or(0);
        let split = split_at(n_all, opts.validation_split);
        let (x_train, x_val) = x.split_at(Axis(0), split.min(n_all));
        let (y_train, y_val) = if y.ndim() > 0 && y.shape()[0] == n_all {
            y.split_at(Axis(0), split)
        } else {
            (y.view(), y.slice_axis(Axis(0), (0..0).into()))
        };
        let train = prepare(self, x_train, y_train, "x")?;
        let val = match (&opts.validation_data, opts.validation_split > 0.0) {
            (Some((vx, vy)), _) => Some(prepare(self, vx.view(), vy.view(), "validation data")?),
            (None, true) => Some(prepare(self, x_val, y_val, "validation split")?),
            (None, false) => None,
        };
        let mut history = History::default();
        let steps = train.n.div_ceil(opts.batch_size);
        for epoch in opts.initial_epoch..opts.epochs {
            let order = epoch_order(train.n, opts.shuffle, opts.seed, epoch);
            let mut progress = Progress::new(opts.verbose, epoch, opts.epochs, steps);
            let mut batch_losses = BatchLosses::new(&opts.callbacks);
            let (layers, compiled) = self.parts()?;
            let sums = Sums::new(&compiled.device, compiled.metrics.len())?;
            let mut seen = 0;
            for (b, idx) in order.chunks(opts.batch_size).enumerate() {
                let (xb, yb, host_x) =
                    train
                        .source
                        .batch(&compiled.device, idx, &train.x_dims, &train.y_dims)?;
                observe(layers, host_x.as_ref(), b, idx)?;
                compiled
                    .built
                    .as_ref()
                    .expect("prepared")
                    .spec
                    .check_batch(b, xb.dims())?;
                step(layers, compiled, &xb, &yb, &sums, true)?;
                seen += idx.len();
                if let Some(losses) = batch_losses.as_mut()
                    && let Some(why) = losses.batch_end(compiled, &sums, epoch, b, idx.len())?
                {
                    history.stopped.get_or_insert(why);
                    break;
                }
                if progress.wants_update(b + 1) {
                    progress.update(b + 1, &sums.read(compiled, seen)?.logs(""));
                }
            }
            let mut logs = sums.read(compiled, seen)?.logs("");
            if let Some(val) = &val {
                logs.extend(
                    evaluate_prepared(layers, compiled, val, opts.batch_size)?.logs("val_"),
                );
            }
            progress.finish(&logs);
            history.push(&logs);
            if epoch_end(self, &opts, epoch, &logs, &mut history)? {
                break;
            }
        }
        Ok(history)
    }

    /// Loss and metrics on `x`, `y` in batches of 32 (Keras's `model.evaluate(x, y)`), without
    /// training; `x` and `y` are checked as in [`Sequential::fit`], with the same errors.
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
    pub fn evaluate<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Result<Evaluation>
    where
        S1: Data<Elem = f32>,
        D1: Dimension,
        S2: Data<Elem = f32>,
        D2: Dimension,
    {
        let data = prepare(self, x.view().into_dyn(), y.view().into_dyn(), "x")?;
        let (layers, compiled) = self.parts()?;
        evaluate_prepared(layers, compiled, &data, 32)
    }

    /// The model's outputs `[N, ...output]` for `x: [N, ...input]`, in batches of 32 (Keras's
    /// `model.predict(x)`). Errors: [`Error::Config`] before `compile`, [`Error::Empty`],
    /// [`Error::Shape`] or [`Error::NonFinite`] for `x` as in [`Sequential::fit`].
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
    pub fn predict<S, D>(&mut self, x: &ArrayBase<S, D>) -> Result<ArrayD<f32>>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        self.predict_batched(x, 32)
    }

    /// [`Sequential::predict`] with a batch size (Keras's `predict(x, batch_size=...)`);
    /// 0 is an [`Error::Config`]. The result does not depend on the batch size.
    pub fn predict_batched<S, D>(
        &mut self,
        x: &ArrayBase<S, D>,
        batch_size: usize,
    ) -> Result<ArrayD<f32>>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        check_batch_size(batch_size)?;
        let x = x.view().into_dyn();
        self.ensure_built(x.shape())?;
        let (layers, compiled) = self.parts()?;
        let n = check_x(&compiled.built.as_ref().expect("built").spec, &x, "x")?;
        let mut outputs = Vec::new();
        for (b, start) in (0..n).step_by(batch_size).enumerate() {
            let host = x
                .slice_axis(Axis(0), (start..(start + batch_size).min(n)).into())
                .to_owned();
            let ids: Vec<usize> = (start..(start + batch_size).min(n)).collect();
            observe(layers, Some(&host), b, &ids)?;
            let xb = Tensor::from_array(&compiled.device, &host)?;
            outputs.push(forward(layers, &xb, false)?.0);
        }
        let arrays: Vec<ArrayD<f32>> = outputs
            .iter()
            .map(Tensor::to_array_blocking)
            .collect::<Result<_>>()?;
        let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
        ndarray::concatenate(Axis(0), &views)
            .map_err(|e| Error::Data(format!("joining prediction batches: {e}")))
    }

    /// One training step on one batch (Keras's `model.train_on_batch(x, y)`); returns its
    /// mean loss before the update (reading it back blocks). `x` and `y` are checked as in
    /// [`Sequential::fit`], with the same errors.
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
    pub fn train_on_batch<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Result<f32>
    where
        S1: Data<Elem = f32>,
        D1: Dimension,
        S2: Data<Elem = f32>,
        D2: Dimension,
    {
        let (xb, yb, n) = one_batch(self, x.view().into_dyn(), y.view().into_dyn())?;
        let (layers, compiled) = self.parts()?;
        let sums = Sums::new(&compiled.device, compiled.metrics.len())?;
        step(layers, compiled, &xb, &yb, &sums, true)?;
        Ok(sums.read(compiled, n)?.loss)
    }
}

pub(super) fn evaluate_prepared(
    layers: &mut [Box<dyn Layer>],
    compiled: &mut Compiled,
    data: &Prepared,
    batch_size: usize,
) -> Result<Evaluation> {
    let sums = Sums::new(&compiled.device, compiled.metrics.len())?;
    let idx: Vec<usize> = (0..data.n).collect();
    for (b, chunk) in idx.chunks(batch_size).enumerate() {
        let (xb, yb, host_x) =
            data.source
                .batch(&compiled.device, chunk, &data.x_dims, &data.y_dims)?;
        observe(layers, host_x.as_ref(), b, chunk)?;
        step(layers, compiled, &xb, &yb, &sums, false)?;
    }
    sums.read(compiled, data.n)
}

#[cfg(test)]
mod tests {
    use super::split_at;

    #[test]
    fn validation_split_holds_out_what_keras_holds_out() {
        // Keras: split_at = int(math.floor(num_samples * (1.0 - validation_split))).
        assert_eq!(split_at(5, 0.2), 4);
        assert_eq!(split_at(10, 0.3), 7);
        assert_eq!(split_at(10, 0.1), 9);
        assert_eq!(split_at(20, 0.25), 15);
        assert_eq!(split_at(3, 0.5), 1);
        assert_eq!(split_at(7, 0.0), 7);
        assert_eq!(split_at(0, 0.2), 0);
    }
}
