//! One training run: the model (masked LSTM or MLP, by the data's kind) and the `Trainer`
//! that steps it between frames without waiting for the GPU.

use std::ptr::NonNull;

use ndarray::{ArrayD, Axis};
use wgfit::prelude::*;
use wgfit::{LiveLogs, Trainer};

use crate::data::{Data, Kind};

/// The model for `data`, compiled on `device`.
pub fn build(data: &Data, device: &Device) -> wgfit::Result<Sequential> {
    let shape = &data.x_train.shape()[1..];
    let mut model = match data.kind {
        Kind::Sequences => Sequential::new()
            .add(Masking::new(0.0).input_shape([None, Some(shape[1])]))
            .add(Lstm::new(64)),
        Kind::Flat => Sequential::new().add(
            Dense::new(64)
                .activation(Activation::Relu)
                .input_shape([shape[0]]),
        ),
    }
    .add(Dense::new(data.classes).activation(Activation::Softmax))
    .seed(1);
    let rate = if data.kind == Kind::Sequences {
        0.005
    } else {
        0.01
    };
    model.compile(
        device,
        Optimizer::adam().learning_rate(rate),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

/// A model and its trainer. The trainer borrows the model for as long as it lives, so the
/// model sits on the heap, owned through a pointer, and is freed only after the trainer.
pub struct Session {
    /// Borrows `*model`; always dropped first (see `Drop`).
    trainer: Option<Trainer<'static>>,
    model: NonNull<Sequential>,
}

impl Session {
    /// Compiles a model for `data` and a trainer for `epochs` epochs of `batch` samples, which
    /// also reads its running loss and accuracy after every batch (for the plot).
    pub fn new(
        data: &Data,
        device: &Device,
        epochs: usize,
        batch: usize,
    ) -> wgfit::Result<Session> {
        let model = NonNull::from(Box::leak(Box::new(build(data, device)?)));
        let mut session = Session {
            trainer: None,
            model,
        };
        // SAFETY: `model` is a live, uniquely owned heap allocation; the trainer is the only
        // reference made from it, and `Drop` drops the trainer before freeing the model.
        let model: &'static mut Sequential = unsafe { &mut *session.model.as_ptr() };
        let opts = FitOptions::new()
            .batch_size(batch)
            .epochs(epochs)
            .seed(7)
            .verbose(0);
        let mut trainer = model.trainer(&data.x_train, &data.y_train, opts)?;
        trainer.set_live(true);
        session.trainer = Some(trainer);
        Ok(session)
    }

    pub fn trainer(&mut self) -> &mut Trainer<'static> {
        self.trainer
            .as_mut()
            .expect("set in new, taken only in drop")
    }

    pub fn latest(&self) -> Option<&LiveLogs> {
        self.trainer.as_ref().and_then(|t| t.latest())
    }

    /// The class probabilities for sample `i` of `x` (waits for the GPU: a user's click).
    pub fn predict(&mut self, x: &ArrayD<f32>, i: usize) -> wgfit::Result<Vec<f32>> {
        let one = x.index_axis(Axis(0), i).insert_axis(Axis(0)).to_owned();
        let p = self.trainer().predict(&one)?;
        Ok(p.iter().copied().collect())
    }

    /// Saves the whole model (`Model::save`) as it stands between steps.
    pub fn save(&mut self, path: &std::path::Path) -> wgfit::Result<()> {
        self.trainer().model().save(path)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.trainer = None;
        // SAFETY: made by `Box::leak` in `new`; the trainer, its only borrower, is gone.
        drop(unsafe { Box::from_raw(self.model.as_ptr()) });
    }
}
