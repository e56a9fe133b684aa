//! Models: `Sequential` and the functional `Model`, compiled for a device, trained with `fit`.

mod callback_calls;
mod data;
mod functional;
mod history;
mod options;
mod plot;
mod sequential;
mod step;
mod train;
mod train_dataset;
mod trainer;

pub use functional::{Call, Input, Model, Node};
pub use history::{Evaluation, History};
pub use options::FitOptions;
pub(crate) use sequential::not_compiled;
pub use sequential::{Sequential, WeightBuffer};
pub use trainer::{Trainer, TrainerState};
