//! Models: graphs of layers (`Model`; `Sequential` is a chain of one), compiled for a device,
//! trained by one loop (`run.rs`) that `fit`, `evaluate`, `predict` and `Trainer` drive over
//! batches from arrays, datasets or generators (`sources.rs`), each checked where it is made
//! (`batch.rs`).

mod arrays;
mod batch;
mod build;
mod config;
mod epoch;
mod evaluate;
mod fit;
mod functional;
mod gradients;
mod graph;
mod history;
mod keras_order;
mod node;
mod options;
mod outputs;
mod pass;
mod plot;
mod run;
mod sequential;
mod sources;
mod split;
mod step;
mod sums;
mod trainer;
mod weights;

pub use arrays::{Arrays, XY};
pub(crate) use config::{LayerSpec, parse as parse_config};
pub use functional::Model;
pub(crate) use functional::not_compiled;
pub use history::{Evaluation, History};
pub use node::{Call, CallMany, Input, IntoLayer, NameLayer, Named, Node, Nodes, Shared};
pub use options::FitOptions;
pub use outputs::OutputLoss;
pub use run::LiveLogs;
pub use sequential::Sequential;
pub use trainer::{Trainer, TrainerState};
pub use weights::WeightBuffer;
