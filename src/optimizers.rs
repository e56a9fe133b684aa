//! Optimizers with Keras defaults and Keras 3's update formulas, each a fused kernel.

use crate::device::Device;
use crate::error::Result;
use crate::ops::adam::{adam_update, AdamStep};
use crate::ops::rmsprop::{rmsprop_update, RmsPropStep};
use crate::ops::sgd::sgd_update;
use crate::tensor::Tensor;

/// An optimizer and its hyperparameters.
///
/// ```
/// use wgfit::Optimizer;
/// let adam = Optimizer::adam().learning_rate(0.01);
/// let sgd = Optimizer::sgd().momentum(0.9).nesterov(true);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Adam {
        learning_rate: f32,
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
    },
    Sgd {
        learning_rate: f32,
        momentum: f32,
        nesterov: bool,
    },
    RmsProp {
        learning_rate: f32,
        rho: f32,
        momentum: f32,
        epsilon: f32,
    },
}

impl Optimizer {
    /// Adam: lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7.
    pub fn adam() -> Self {
        Optimizer::Adam {
            learning_rate: 0.001,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }

    /// SGD: lr 0.01, no momentum.
    pub fn sgd() -> Self {
        Optimizer::Sgd {
            learning_rate: 0.01,
            momentum: 0.0,
            nesterov: false,
        }
    }

    /// RMSprop: lr 0.001, rho 0.9, no momentum, epsilon 1e-7.
    pub fn rmsprop() -> Self {
        Optimizer::RmsProp {
            learning_rate: 0.001,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
        }
    }

    #[must_use]
    pub fn learning_rate(mut self, lr: f32) -> Self {
        match &mut self {
            Optimizer::Adam { learning_rate, .. }
            | Optimizer::Sgd { learning_rate, .. }
            | Optimizer::RmsProp { learning_rate, .. } => *learning_rate = lr,
        }
        self
    }

    /// Momentum for SGD and RMSprop (Adam ignores it).
    #[must_use]
    pub fn momentum(mut self, m: f32) -> Self {
        if let Optimizer::Sgd { momentum, .. } | Optimizer::RmsProp { momentum, .. } = &mut self {
            *momentum = m;
        }
        self
    }

    /// Nesterov momentum for SGD.
    #[must_use]
    pub fn nesterov(mut self, on: bool) -> Self {
        if let Optimizer::Sgd { nesterov, .. } = &mut self {
            *nesterov = on;
        }
        self
    }

    /// Keras's name for it.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Adam { .. } => "adam",
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::RmsProp { .. } => "rmsprop",
        }
    }

    /// The names of the state it keeps per weight, in slot order.
    pub(crate) fn slot_names(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Adam { .. } => &["m", "v"],
            Optimizer::Sgd { .. } => &["momentum"],
            Optimizer::RmsProp { .. } => &["velocity", "momentum"],
        }
    }

    /// Zeroed state slots for one weight (Adam: m, v; SGD: momentum; RMSprop: velocity,
    /// momentum).
    pub(crate) fn new_slots(&self, device: &Device, weight: &Tensor) -> Result<Vec<Tensor>> {
        let n = self.slot_names().len();
        (0..n)
            .map(|_| Tensor::zeros(device, weight.shape().clone()))
            .collect()
    }

    /// Updates `w` in place from `g` at step `t` (1 for the first).
    pub(crate) fn apply(&self, w: &Tensor, slots: &[Tensor], g: &Tensor, t: u64) -> Result<()> {
        match *self {
            Optimizer::Adam {
                learning_rate,
                beta_1,
                beta_2,
                epsilon,
            } => adam_update(
                w,
                &slots[0],
                &slots[1],
                g,
                AdamStep::new(learning_rate, beta_1, beta_2, epsilon, t),
            ),
            Optimizer::Sgd {
                learning_rate,
                momentum,
                nesterov,
            } => sgd_update(w, &slots[0], g, learning_rate, momentum, nesterov),
            Optimizer::RmsProp {
                learning_rate,
                rho,
                momentum,
                epsilon,
            } => rmsprop_update(
                w,
                &slots[0],
                &slots[1],
                g,
                RmsPropStep {
                    lr: learning_rate,
                    rho,
                    momentum,
                    epsilon,
                },
            ),
        }
    }
}
