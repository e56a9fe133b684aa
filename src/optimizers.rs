//! Optimizers with Keras defaults and Keras 3's update formulas, each a fused kernel.

use crate::device::Device;
use crate::error::Result;
use crate::ops::adam::{AdamStep, adam_update};
use crate::ops::rmsprop::{RmsPropStep, rmsprop_update};
use crate::ops::sgd::sgd_update;
use crate::tensor::Tensor;

/// An optimizer and its hyperparameters, as Keras's `optimizer='adam'` (or
/// `keras.optimizers.Adam(learning_rate=...)`); passed to
/// [`Model::compile`](crate::Model::compile).
///
/// Build one with [`Optimizer::adam`], [`Optimizer::sgd`] or [`Optimizer::rmsprop`] (Keras's
/// defaults) and adjust it with the builder methods; the variants' fields are public for
/// matching. Each update is one fused kernel per weight; its state (moments, momentum) is
/// saved in checkpoints.
///
/// ```
/// use wgfit::Optimizer;
/// let adam = Optimizer::adam().learning_rate(0.01);
/// assert!(matches!(adam, Optimizer::Adam { learning_rate, beta_1, .. } if learning_rate == 0.01 && beta_1 == 0.9));
/// let sgd = Optimizer::sgd().momentum(0.9).nesterov(true);
/// assert_eq!(sgd, Optimizer::Sgd { learning_rate: 0.01, momentum: 0.9, nesterov: true });
/// assert_eq!(Optimizer::rmsprop().name(), "rmsprop");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Adam (Keras's `Adam`), with Keras 3's bias-corrected update.
    Adam {
        /// Step size (Keras's default 0.001).
        learning_rate: f32,
        /// Decay of the first-moment estimate (default 0.9). f64 like Keras's Python float:
        /// `1 - beta_1` is computed in f64 and rounded once to f32, as Keras does.
        beta_1: f64,
        /// Decay of the second-moment estimate (default 0.999); f64 as `beta_1`.
        beta_2: f64,
        /// Added to the denominator for stability (default 1e-7).
        epsilon: f32,
    },
    /// Stochastic gradient descent (Keras's `SGD`), optionally with (Nesterov) momentum.
    Sgd {
        /// Step size (Keras's default 0.01).
        learning_rate: f32,
        /// Momentum factor in `[0, 1)`; 0 for plain SGD (the default).
        momentum: f32,
        /// Nesterov momentum instead of classical momentum (default false).
        nesterov: bool,
    },
    /// RMSprop (Keras's `RMSprop`), optionally with momentum.
    RmsProp {
        /// Step size (Keras's default 0.001).
        learning_rate: f32,
        /// Decay of the moving average of squared gradients (default 0.9). f64 like Keras's
        /// Python float: `1 - rho` is computed in f64 and rounded once to f32, as Keras does.
        rho: f64,
        /// Momentum factor; 0 for none (the default).
        momentum: f32,
        /// Added to the denominator for stability (default 1e-7).
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

    /// Sets the learning rate, whatever the optimizer (Keras's `learning_rate=`).
    ///
    /// ```
    /// let sgd = wgfit::Optimizer::sgd().learning_rate(0.5);
    /// assert!(matches!(sgd, wgfit::Optimizer::Sgd { learning_rate: 0.5, .. }));
    /// ```
    #[must_use]
    pub fn learning_rate(mut self, lr: f32) -> Self {
        match &mut self {
            Optimizer::Adam { learning_rate, .. }
            | Optimizer::Sgd { learning_rate, .. }
            | Optimizer::RmsProp { learning_rate, .. } => *learning_rate = lr,
        }
        self
    }

    /// Momentum for SGD and RMSprop (Adam ignores it: the value is silently dropped).
    #[must_use]
    pub fn momentum(mut self, m: f32) -> Self {
        if let Optimizer::Sgd { momentum, .. } | Optimizer::RmsProp { momentum, .. } = &mut self {
            *momentum = m;
        }
        self
    }

    /// Nesterov momentum for SGD (the other optimizers ignore it).
    #[must_use]
    pub fn nesterov(mut self, on: bool) -> Self {
        if let Optimizer::Sgd { nesterov, .. } = &mut self {
            *nesterov = on;
        }
        self
    }

    /// Keras's name for it (`"adam"`, `"sgd"`, `"rmsprop"`), also stored in checkpoints.
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
