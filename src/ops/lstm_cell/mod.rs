//! The LSTM cell over a whole sequence, forward and backward through time
//! (`shaders/lstm_cell.wgsl`, `shaders/lstm_cell_backward.wgsl`), with CPU twins.
//!
//! forward:  xp: `[B, T, 4U]` (x · kernel + bias), rk: `[U, 4U]`, mask: `[B, T]` or none
//!           -> hseq, cseq: `[B, T, U]`, gates: `[B, T, 4U]`, hprev: `[B, T, U]`
//! backward: the forward's states, dh_last: `[B, U]` and/or dy_seq: `[B, T, U]`
//!           -> dz: `[B, T, 4U]`, the gradient w.r.t. the gates' pre-activations; from it the
//!           layer gets dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz, dx = dz kernelᵀ.
//! Gate order i, f, g (Keras's "c"), o. A masked step keeps h and c, so the final state is the
//! state at the last unmasked step, whatever side the padding is on.

mod backward;
mod blocked;
mod cell;
mod choice;
mod cpu;
mod forward;

/// The kernel choice of an LSTM: the recurrent driver's, under its old name.
pub use crate::ops::recurrent::RecurrentKernel as LstmKernel;
pub use backward::{lstm_backward, lstm_backward_to_state, lstm_backward_with};
pub use choice::{AUTO_PERSISTENT_MAX_UNITS, PERSISTENT_MAX_UNITS, SOFTWARE_PERSISTENT_MIN_UNITS};
pub use forward::{lstm_forward, lstm_forward_from, lstm_forward_with};

use crate::device::Kernel;
use crate::ops::recurrent::{Params, checked};
use crate::tensor::Tensor;

pub(crate) const FORWARD: Kernel = Kernel {
    name: "lstm_cell",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/recurrent.wgsl"),
        include_str!("../../../shaders/lstm_cell.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("lstm_step", 7)],
    trusted: false,
};

pub(crate) const BACKWARD: Kernel = Kernel {
    name: "lstm_cell_backward",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/recurrent.wgsl"),
        include_str!("../../../shaders/lstm_cell_backward.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("lstm_backward_gates", 8), ("lstm_backward_h", 4)],
    trusted: false,
};

/// The per-step kernels, and the persistent ones for a few units of each kind of plan (the
/// rest are generated the same way when a layer asks for them), for the shader check.
pub(crate) fn kernels() -> Vec<&'static Kernel> {
    let blocked = checked(&blocked::FORWARD).chain(checked(&blocked::BACKWARD));
    [&FORWARD, &BACKWARD].into_iter().chain(blocked).collect()
}

/// What the forward pass keeps for the backward pass (and the outputs).
///
/// `hseq` is Keras's `LSTM(return_sequences=True)` output; its last step (the state at the
/// last unmasked step) is `LSTM`'s default output.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::lstm_forward;
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 2, 4], vec![0.5; 8])?; // B = 1, T = 2, U = 1
/// let rk = Tensor::from_vec(&device, [1, 4], vec![0.1; 4])?;
/// let s = lstm_forward(&xp, &rk, None)?;
/// assert_eq!((s.hseq.dims(), s.gates.dims()), (&[1, 2, 1][..], &[1, 2, 4][..]));
/// let (h, hprev) = (s.hseq.to_vec_blocking()?, s.hprev.to_vec_blocking()?);
/// assert_eq!(hprev, vec![0.0, h[0]]); // h before step 1 is h after step 0
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LstmStates {
    /// h after each step: `[B, T, U]` (the output sequence).
    pub hseq: Tensor,
    /// c after each step: `[B, T, U]`.
    pub cseq: Tensor,
    /// i, f, g, o after their activations: `[B, T, 4U]`.
    pub gates: Tensor,
    /// h before each step: `[B, T, U]` (step 0's is h0, the initial h).
    pub hprev: Tensor,
    /// c before step 0, the initial c: `[B, U]`, or `None` for zeros.
    pub c0: Option<Tensor>,
    /// The recurrent dropout masks the pass ran with: `[4, B, U]`, or `None` for none (see
    /// [`RecurrentInputs`](crate::ops::recurrent::RecurrentInputs)).
    pub rdrop: Option<Tensor>,
}
