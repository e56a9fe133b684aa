//! `Trainer`: `fit` in steps, for apps that train between frames. Each call to `step` runs a
//! few batches of the one training loop (each one submit, as in `fit`) and returns; the app
//! renders, then calls again, or cancels.

use super::arrays::{Arrays, XY};
use super::functional::Model;
use super::history::{Evaluation, History};
use super::options::FitOptions;
use super::run::{LiveLogs, Run};
use crate::data::SequenceDataset;
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
    /// Batches in an epoch, when known (0 for a generator without `steps_per_epoch`).
    pub batches_per_epoch: usize,
    /// True once every epoch ran, a callback stopped training, or it was cancelled (and the
    /// logs of the epochs that [`Trainer::try_step`] ended have arrived).
    pub done: bool,
}

/// Trains a model a few batches at a time: `fit` cut into steps for an app that trains
/// between frames. Each [`Trainer::step`] runs the batches it is asked for and returns; the
/// batches, validation, callbacks and history are `fit`'s with the same options (the same
/// loop runs both). Made by [`Model::trainer`], [`Model::trainer_dataset`] or
/// [`Model::trainer_generator`]; it holds the model mutably until dropped.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
/// model.compile(&Device::cpu(), Optimizer::sgd().learning_rate(0.1), Loss::MeanSquaredError, &[])?;
/// let (x, y) = (ndarray::arr2(&[[1.0f32], [2.0]]), ndarray::arr1(&[2.0f32, 4.0]));
/// let mut trainer = model.trainer(&x, &y, FitOptions::new().epochs(100).verbose(0))?;
/// let before = trainer.evaluate_now()?.loss;
/// while trainer.history().epochs() < 10 {
///     trainer.step(1)?; // one batch per frame
/// }
/// trainer.cancel();
/// assert!(trainer.is_done() && trainer.history().stopped.is_some());
/// assert!(trainer.evaluate_now()?.loss < before);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct Trainer<'a> {
    model: &'a mut Model,
    run: Run<'a>,
}

impl Model {
    /// A trainer for arrays `x`, `y` with `opts` (as [`Model::fit`]); the data is checked
    /// here, with `fit`'s errors. Nothing runs until [`Trainer::step`].
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([2]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let x = ndarray::arr2(&[[0.0f32, 1.0], [1.0, 0.0], [1.0, 1.0]]);
    /// let y = ndarray::arr1(&[1.0f32, 1.0, 2.0]);
    /// let opts = FitOptions::new().batch_size(1).epochs(2).validation_split(0.34).verbose(0);
    /// let mut trainer = model.trainer(&x, &y, opts)?;
    /// while !trainer.step(2)?.done {
    ///     // draw a frame here
    /// }
    /// assert_eq!(trainer.history().get("val_loss").map(<[f32]>::len), Some(2));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn trainer<'x, 'y>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        y: impl Into<Arrays<'y>>,
        opts: FitOptions,
    ) -> Result<Trainer<'_>> {
        let run = self.run_arrays(&x.into(), &y.into(), opts)?;
        Ok(Trainer { model: self, run })
    }

    /// A trainer on a dataset (as [`Model::fit_dataset`]).
    pub fn trainer_dataset<'a>(
        &'a mut self,
        ds: &'a SequenceDataset,
        opts: FitOptions,
    ) -> Result<Trainer<'a>> {
        let run = self.run_dataset(ds, opts)?;
        Ok(Trainer { model: self, run })
    }

    /// A trainer on a generator (as [`Model::fit_generator`]).
    pub fn trainer_generator<'a, F, I, B>(
        &'a mut self,
        make_epoch: F,
        opts: FitOptions,
    ) -> Result<Trainer<'a>>
    where
        F: FnMut(usize) -> I + 'a,
        I: IntoIterator<Item = B>,
        I::IntoIter: 'a,
        B: Into<XY> + 'a,
    {
        let run = self.run_generator(make_epoch, opts)?;
        Ok(Trainer { model: self, run })
    }
}

impl Trainer<'_> {
    /// Runs up to `batches` training batches (ending epochs on the way: their logs, the
    /// validation and the callbacks) and returns where training stands; once done, it runs
    /// nothing.
    pub fn step(&mut self, batches: usize) -> Result<TrainerState> {
        self.run.advance(self.model, batches)?;
        Ok(self.state())
    }

    /// As [`step`](Trainer::step), but never waits for the GPU, for a UI thread: it runs up
    /// to `batches` batches, stopping early when the GPU has no room for the next one's submit
    /// (the host stays at most two submits ahead of it), and an epoch's end leaves its logs on
    /// their way: they join [`history`](Trainer::history) once they arrive, collected by this
    /// and by [`poll`](Trainer::poll). [`state`](Trainer::state)'s `done` waits for them.
    /// With callbacks, an epoch's end still waits for its logs (the callbacks get them then),
    /// and validation batches run at the epoch's end as in `fit`. On the CPU, the batches
    /// run on the calling thread.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let (x, y) = (ndarray::Array2::<f32>::ones((4, 1)), ndarray::Array1::<f32>::ones(4));
    /// let mut trainer = model.trainer(&x, &y, FitOptions::new().batch_size(2).epochs(3))?;
    /// trainer.set_live(true);
    /// while !trainer.try_step(1)?.done {
    ///     // draw a frame: trainer.latest() has the running loss once it arrives
    /// }
    /// assert_eq!(trainer.history().epochs(), 3);
    /// assert_eq!(trainer.latest().map(|l| (l.epoch, l.batch)), Some((2, 2)));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn try_step(&mut self, batches: usize) -> Result<TrainerState> {
        self.run.advance_without_waiting(self.model, batches)?;
        Ok(self.state())
    }

    /// Collects what has arrived from the GPU (ended epochs' logs, the running logs) without
    /// waiting; for the frames where an app does not step.
    pub fn poll(&mut self) -> Result<TrainerState> {
        self.run.collect(self.model, false)?;
        self.run.poll_live(self.model)?;
        Ok(self.state())
    }

    /// The most training submits [`try_step`](Trainer::try_step) leaves running on the GPU:
    /// 2 (the default, as `fit`) keeps the GPU busy; 1 submits a batch only once the last
    /// one is done, so an app's own rendering, queued behind it, waits for at most one batch
    /// of training work (a software adapter, whose "GPU" is the CPU the UI also runs on,
    /// draws more frames that way). Clamped to 1..=2.
    pub fn set_queue_depth(&mut self, depth: usize) {
        self.run.queue_depth = depth.clamp(1, crate::device::MAX_IN_FLIGHT);
    }

    /// Epochs ended whose logs are still on their way (after [`try_step`](Trainer::try_step)).
    pub fn pending_epochs(&self) -> usize {
        self.run.pending_epochs()
    }

    /// With `true`, each batch also reads the epoch's running loss and metrics back (without
    /// waiting, a step or so late): [`latest`](Trainer::latest), e.g. for a live plot.
    pub fn set_live(&mut self, on: bool) {
        self.run.live = on;
    }

    /// The newest running logs that arrived (with [`set_live`](Trainer::set_live)).
    pub fn latest(&self) -> Option<&LiveLogs> {
        self.run.latest.as_ref()
    }

    /// Where training stands.
    pub fn state(&self) -> TrainerState {
        let p = self.run.position();
        TrainerState {
            epoch: p.epoch,
            batch: p.batch,
            batches_per_epoch: p.steps.unwrap_or(0),
            done: p.done,
        }
    }

    /// Stops training; the epochs done so far stay in the history (a partial epoch does not).
    pub fn cancel(&mut self) {
        self.run.cancel();
    }

    /// True once every epoch ran, a callback stopped training, or it was cancelled (and the
    /// logs of the epochs ended by [`try_step`](Trainer::try_step) have arrived).
    pub fn is_done(&self) -> bool {
        self.run.is_done()
    }

    /// The logs of the epochs done so far.
    pub fn history(&self) -> &History {
        &self.run.history
    }

    /// The model, for reading weights (or their GPU buffers) between steps.
    pub fn model(&self) -> &Model {
        self.model
    }

    /// The model's predictions for `x` at the current weights, between steps (as
    /// [`Model::predict`]: it waits for the GPU).
    pub fn predict<'x>(&mut self, x: impl Into<Arrays<'x>>) -> Result<ndarray::ArrayD<f32>> {
        self.model.predict(x)
    }

    /// Loss and metrics of the training data at the current weights, without ending the
    /// trainer (arrays and datasets; a generator's batches would be drawn from it).
    pub fn evaluate_now(&mut self) -> Result<Evaluation> {
        self.run.evaluate_train(self.model)
    }
}
