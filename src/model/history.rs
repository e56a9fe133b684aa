//! `History`: per-epoch loss and metrics returned by `fit`, as Keras's `history.history`.

use std::collections::BTreeMap;

/// Per-epoch values by name: `loss`, `accuracy`, `val_loss`, `val_accuracy`...
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Each logged value, one entry per epoch.
    pub history: BTreeMap<String, Vec<f32>>,
    /// Why training stopped before its last epoch, when a callback stopped it.
    pub stopped: Option<String>,
}

impl History {
    /// The training loss per epoch.
    pub fn loss(&self) -> &[f32] {
        self.get("loss").unwrap_or(&[])
    }

    /// A logged value per epoch (`"accuracy"`, `"val_loss"`...).
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.history.get(name).map(Vec::as_slice)
    }

    /// Number of epochs recorded.
    pub fn epochs(&self) -> usize {
        self.history.values().map(Vec::len).max().unwrap_or(0)
    }

    pub(crate) fn push(&mut self, logs: &[(String, f32)]) {
        for (name, value) in logs {
            self.history.entry(name.clone()).or_default().push(*value);
        }
    }
}

/// Loss and metrics from `evaluate` (or one epoch of `fit`).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The loss, averaged over the samples as Keras reports it.
    pub loss: f32,
    /// `(name, value)` for each compiled metric, in compile order.
    pub metrics: Vec<(String, f32)>,
}

impl Evaluation {
    /// A metric by name (`"accuracy"`), or the loss for `"loss"`.
    pub fn get(&self, name: &str) -> Option<f32> {
        if name == "loss" {
            return Some(self.loss);
        }
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// `[("loss", ..), ("accuracy", ..)]`, optionally prefixed (`val_`).
    pub(crate) fn logs(&self, prefix: &str) -> Vec<(String, f32)> {
        std::iter::once(("loss".to_string(), self.loss))
            .chain(self.metrics.iter().cloned())
            .map(|(n, v)| (format!("{prefix}{n}"), v))
            .collect()
    }
}
