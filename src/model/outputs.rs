//! A loss per output: `OutputLoss` (what `compile_outputs` takes) and `Head` (what a
//! compiled model keeps for each output, in output order).

use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::metrics::Metric;

/// One output's loss, its weight in the total and its metrics, for
/// [`Model::compile_outputs`](crate::Model::compile_outputs) (Keras's `loss={name: ...}`,
/// `loss_weights={name: ...}`, `metrics={name: [...]}`).
///
/// ```
/// use wgfit::prelude::*;
/// let head = OutputLoss::new("cls", Loss::CategoricalCrossentropy).weight(0.5).metrics(&[Metric::Accuracy]);
/// # let _ = head;
/// ```
#[derive(Debug, Clone)]
pub struct OutputLoss {
    name: String,
    loss: Loss,
    weight: f32,
    metrics: Vec<Metric>,
}

impl OutputLoss {
    /// The loss of the output named `name` (its layer's name), weight 1, no metrics.
    pub fn new(name: &str, loss: Loss) -> Self {
        OutputLoss {
            name: name.to_string(),
            loss,
            weight: 1.0,
            metrics: Vec::new(),
        }
    }

    /// This output's loss counts `weight` times in the total (default 1).
    #[must_use]
    pub fn weight(mut self, weight: f32) -> Self {
        self.weight = weight;
        self
    }

    /// Metrics for this output.
    #[must_use]
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        self.metrics = metrics.to_vec();
        self
    }
}

/// What a compiled model keeps for one output.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) name: String,
    pub(crate) loss: Loss,
    pub(crate) weight: f32,
    pub(crate) metrics: Vec<Metric>,
}

impl Head {
    /// One head per output, in output order, from the entries given by name.
    pub(crate) fn match_outputs(names: &[String], given: &[OutputLoss]) -> Result<Vec<Head>> {
        for (i, g) in given.iter().enumerate() {
            if !names.contains(&g.name) {
                return Err(Error::Config(format!(
                    "compile: no output is named '{}' (the outputs are {})",
                    g.name,
                    names.join(", ")
                )));
            }
            if given[..i].iter().any(|h| h.name == g.name) {
                return Err(Error::Config(format!(
                    "compile: two losses for output '{}'",
                    g.name
                )));
            }
            if !g.weight.is_finite() {
                return Err(Error::Config(format!(
                    "compile: the loss weight of output '{}' is {}",
                    g.name, g.weight
                )));
            }
            for m in &g.metrics {
                m.check(g.loss)?;
            }
        }
        names
            .iter()
            .map(|name| {
                let g = given.iter().find(|g| &g.name == name).ok_or_else(|| {
                    Error::Config(format!("compile: output '{name}' has no loss"))
                })?;
                Ok(Head {
                    name: name.clone(),
                    loss: g.loss,
                    weight: g.weight,
                    metrics: g.metrics.clone(),
                })
            })
            .collect()
    }

    /// The history's names for this head's loss and metrics: `loss`, `accuracy` for a
    /// model with one output; `{name}_loss`, `{name}_accuracy` with several.
    pub(crate) fn log_name(&self, what: &str, outputs: usize) -> String {
        if outputs == 1 {
            what.to_string()
        } else {
            format!("{}_{what}", self.name)
        }
    }
}
