//! Models: `Sequential` and the functional `Model`, compiled for a device, trained with `fit`.

mod callback_calls;
mod data;
mod functional;
mod gradients;
mod history;
mod options;
mod plot;
mod sequential;
mod step;
mod train;
mod train_dataset;
mod trainer;
mod weights;

pub use functional::{Call, Input, Model, Node};
pub use history::{Evaluation, History};
pub use options::FitOptions;
pub use sequential::Sequential;
pub(crate) use sequential::not_compiled;
pub use trainer::{Trainer, TrainerState};
pub use weights::WeightBuffer;
