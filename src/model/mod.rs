//! Models: `Sequential`, compiled for a device, trained with `fit`.

mod data;
mod history;
mod options;
mod sequential;
mod train;
mod train_dataset;

pub use history::{Evaluation, History};
pub use options::FitOptions;
pub use sequential::Sequential;
