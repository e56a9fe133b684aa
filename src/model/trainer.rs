//! `Trainer`: `fit` in steps, for apps that train between frames. Each call to `step` runs a
//! few batches (each one submit, as in `fit`) and returns; the app renders, then calls again,
//! or cancels.

use ndarray::{ArrayBase, Data, Dimension};

use super::history::History;
use super::options::FitOptions;
use super::sequential::Sequential;
use super::step::{Sums, observe, step};
use super::train::{Prepared, check_batch_size, epoch_order, evaluate_prepared, prepare};
use crate::error::Result;

/// Where a [`Trainer`] is: returned by [`Trainer::step`] and [`Trainer::state`], e.g. to draw
/// a progress bar between frames.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::Array2::<f32>::ones((5, 1)), ndarray::Array1::<f32>::ones(5));
/// let mut trainer = model.trainer(&x, &y, FitOptions::new().batch_size(2).epochs(2))?;
/// let state = trainer.step(1)?;
/// assert_eq!((state.epoch, state.batch, state.batches_per_epoch), (0, 1, 3));
/// let state = trainer.step(2)?; // the epoch's last two batches
/// assert_eq!((state.epoch, state.batch, state.done), (1, 0, false));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainerState {
    /// The epoch under way, from 0 (or the number of epochs done, once done).
    pub epoch: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches in an epoch: `ceil(N / batch_size)`.
    pub batches_per_epoch: usize,
    /// True once every epoch ran or the trainer was cancelled.
    pub done: bool,
}

/// Trains a model a few batches at a time; see [`Sequential::trainer`]. Keras has no
/// equivalent: it is `fit` cut into steps, for an app that trains between frames (each
/// [`Trainer::step`] runs the batches it is asked for and returns), seeing the same batches
/// in the same order as `fit` with the same options.
///
/// It holds the model mutably until dropped; read it through [`Trainer::model`]. Validation
/// and callbacks of the `FitOptions` are not used, and nothing is printed.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::sgd().learning_rate(0.1), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
/// let mut trainer = model.trainer(&x, &y, FitOptions::new().epochs(100))?;
/// let before = trainer.evaluate_now(32)?.loss;
/// while trainer.history().epochs() < 10 {
///     trainer.step(1)?; // one batch per frame
/// }
/// trainer.cancel();
/// assert!(trainer.is_done() && trainer.history().stopped.is_some());
/// assert!(trainer.evaluate_now(32)?.loss < before);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Trainer<'m> {
    model: &'m mut Sequential,
    train: Prepared,
    opts: FitOptions,
    epoch: usize,
    batch: usize,
    seen: usize,
    order: Vec<usize>,
    sums: Option<Sums>,
    history: History,
    cancelled: bool,
}

impl Sequential {
    /// A trainer for `x`, `y` with `opts` (batch size, epochs, shuffle, seed, initial epoch;
    /// validation and callbacks are `fit`'s). Nothing runs until [`Trainer::step`]. The data
    /// is checked here, with [`Sequential::fit`]'s errors.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let x = ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    /// let y = ndarray::arr1(&[1.0f32, 1.0, 2.0]);
    /// let mut trainer = model.trainer(&x, &y, FitOptions::new().batch_size(1).epochs(2))?;
    /// while !trainer.step(2)?.done {
    ///     // draw a frame here
    /// }
    /// assert_eq!(trainer.history().epochs(), 2);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn trainer<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
        opts: FitOptions,
    ) -> Result<Trainer<'_>>
    where
        S1: Data<Elem = f32>,
        D1: Dimension,
        S2: Data<Elem = f32>,
        D2: Dimension,
    {
        check_batch_size(opts.batch_size)?;
        let train = prepare(self, x.view().into_dyn(), y.view().into_dyn(), "x")?;
        let epoch = opts.initial_epoch;
        Ok(Trainer {
            model: self,
            train,
            opts,
            epoch,
            batch: 0,
            seen: 0,
            order: Vec::new(),
            sums: None,
            history: History::default(),
            cancelled: false,
        })
    }
}

impl Trainer<'_> {
    /// Runs up to `batches` training batches (ending epochs on the way, with their logs in
    /// the history) and returns where training stands; once done, it runs nothing.
    pub fn step(&mut self, batches: usize) -> Result<TrainerState> {
        for _ in 0..batches {
            if self.is_done() {
                break;
            }
            let (layers, compiled) = self.model.parts()?;
            if self.sums.is_none() {
                self.order =
                    epoch_order(self.train.n, self.opts.shuffle, self.opts.seed, self.epoch);
                self.sums = Some(Sums::new(&compiled.device, compiled.metrics.len())?);
                self.seen = 0;
            }
            let bs = self.opts.batch_size;
            let idx = &self.order[self.batch * bs..((self.batch + 1) * bs).min(self.train.n)];
            let (xb, yb, host_x) = self.train.source.batch(
                &compiled.device,
                idx,
                &self.train.x_dims,
                &self.train.y_dims,
            )?;
            observe(layers, host_x.as_ref(), self.batch, idx)?;
            compiled
                .built
                .as_ref()
                .expect("prepared")
                .spec
                .check_batch(self.batch, xb.dims())?;
            let sums = self.sums.as_ref().expect("set above");
            step(layers, compiled, &xb, &yb, sums, true)?;
            self.seen += idx.len();
            self.batch += 1;
            if self.batch * bs >= self.train.n {
                let logs = sums.read(compiled, self.seen)?.logs("");
                self.history.push(&logs);
                self.sums = None;
                self.batch = 0;
                self.epoch += 1;
            }
        }
        Ok(self.state())
    }

    /// Where training stands.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            epoch: self.epoch,
            batch: self.batch,
            batches_per_epoch: self.train.n.div_ceil(self.opts.batch_size),
            done: self.is_done(),
        }
    }

    /// Stops training; the epochs done so far stay in the history (a partial epoch does not).
    pub fn cancel(&mut self) {
        self.cancelled = true;
        self.history
            .stopped
            .get_or_insert_with(|| "cancelled".into());
    }

    /// True once every epoch ran or the trainer was cancelled.
    pub fn is_done(&self) -> bool {
        self.cancelled || self.epoch >= self.opts.epochs
    }

    /// The logs of the epochs done so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The model, for reading weights (or their GPU buffers) between steps.
    pub fn model(&self) -> &Sequential {
        self.model
    }

    /// Loss and metrics of `x`, `y` at the current weights, without ending the trainer.
    pub fn evaluate_now(&mut self, batch_size: usize) -> Result<super::history::Evaluation> {
        let (layers, compiled) = self.model.parts()?;
        evaluate_prepared(layers, compiled, &self.train, batch_size)
    }
}
