//! The SimpleRNN cell over a whole sequence, forward and backward through time
//! (`shaders/simple_rnn_cell.wgsl`, `shaders/simple_rnn_cell_backward.wgsl`), with its CPU
//! twin (`cell.rs`), on the recurrent driver the LSTM and GRU run on
//! ([`ops::recurrent`](super::recurrent)).
//!
//! forward:  xp: `[B, T, U]` (x · kernel + bias), rk: `[U, U]`, mask: `[B, T]`
//!           -> hseq, hprev: `[B, T, U]`, `h = tanh(xp + h_prev · rk)`
//! backward: the forward's states, dh_last: `[B, U]` and/or dy_seq: `[B, T, U]`
//!           -> dz: `[B, T, U]`, the gradient w.r.t. xp (and `h_prev · rk`); from it the
//!           layer gets dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz and
//!           dx = dz kernelᵀ.
//! A masked step keeps h. On a GPU, per-step dispatches or the persistent kernels
//! (`blocked.rs`), chosen as for the LSTM ([`RecurrentKernel`]).

mod backward;
mod blocked;
mod cell;
mod forward;

pub use backward::{simple_rnn_backward, simple_rnn_backward_to_state, simple_rnn_backward_with};
pub use blocked::{AUTO_PERSISTENT_MAX_UNITS, SOFTWARE_PERSISTENT_MIN_UNITS};
pub use forward::{simple_rnn_forward, simple_rnn_forward_from, simple_rnn_forward_with};

use crate::device::Kernel;
pub use crate::ops::recurrent::RecurrentKernel;
use crate::ops::recurrent::{Params, checked};
use crate::tensor::Tensor;

pub(crate) const FORWARD: Kernel = Kernel {
    name: "simple_rnn_cell",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/recurrent.wgsl"),
        include_str!("../../../shaders/simple_rnn_cell.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("rnn_step", 5)],
    trusted: false,
};

pub(crate) const BACKWARD: Kernel = Kernel {
    name: "simple_rnn_cell_backward",
    source: concat!(
        include_str!("../../../shaders/recurrent.wgsl"),
        include_str!("../../../shaders/simple_rnn_cell_backward.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("rnn_backward_gates", 6), ("rnn_backward_h", 6)],
    trusted: false,
};

/// The per-step kernels, and the persistent ones for a few units of each kind of plan, for
/// the shader check.
pub(crate) fn kernels() -> Vec<&'static Kernel> {
    let blocked = checked(&blocked::FORWARD).chain(checked(&blocked::BACKWARD));
    [&FORWARD, &BACKWARD].into_iter().chain(blocked).collect()
}

/// What the forward pass keeps for the backward pass (and the outputs).
///
/// `hseq` is Keras's `SimpleRNN(return_sequences=True)` output; its last step (the state at
/// the last unmasked step) is `SimpleRNN`'s default output.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::simple_rnn_cell::simple_rnn_forward;
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 2, 1], vec![0.5, 0.0])?; // B = 1, T = 2, U = 1
/// let rk = Tensor::from_vec(&device, [1, 1], vec![2.0])?;
/// let s = simple_rnn_forward(&xp, &rk, None)?;
/// let h = s.hseq.to_vec_blocking()?;
/// assert!((h[1] - (2.0 * 0.5f32.tanh()).tanh()).abs() < 1e-6);
/// assert_eq!(s.hprev.to_vec_blocking()?, vec![0.0, h[0]]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SimpleRnnStates {
    /// h after each step: `[B, T, U]` (the output sequence).
    pub hseq: Tensor,
    /// h before each step: `[B, T, U]`.
    pub hprev: Tensor,
    /// The recurrent dropout mask the pass ran with: `[1, B, U]`, or `None` for none (see
    /// [`RecurrentInputs`](crate::ops::recurrent::RecurrentInputs)).
    pub rdrop: Option<Tensor>,
}
