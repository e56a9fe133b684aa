//! The GRU cell over a whole sequence, forward and backward through time
//! (`shaders/gru_cell.wgsl`, `shaders/gru_cell_backward.wgsl`), with its CPU twin (`cell.rs`),
//! on the recurrent driver the LSTM runs on ([`ops::recurrent`](super::recurrent)).
//!
//! forward:  xp: `[B, T, 3U]` (x · kernel + input bias), rk: `[U, 3U]`, the reset variant (with
//!           the recurrent bias `[3U]` for Keras's default `reset_after=True`), mask: `[B, T]`
//!           -> hseq, hprev, hn: `[B, T, U]`, gates: `[B, T, 3U]`
//! backward: the forward's states, dh_last: `[B, U]` and/or dy_seq: `[B, T, U]`
//!           -> dz: `[B, T, 3U]`, the gradient w.r.t. xp; from it the layer gets
//!           dkernel = xᵀ dz, dx = dz kernelᵀ and the recurrent gradients (`layers::Gru`).
//! Gate order z, r, h (Keras's). A masked step keeps h, so the final state is the state at the
//! last unmasked step, whatever side the padding is on. On a GPU, per-step dispatches or the
//! persistent kernels (`blocked.rs`), chosen as for the LSTM ([`RecurrentKernel`]).

mod backward;
mod blocked;
mod cell;
mod forward;

pub use backward::{gru_backward, gru_backward_to_state, gru_backward_with};
pub use blocked::{AUTO_PERSISTENT_MAX_UNITS, SOFTWARE_PERSISTENT_MIN_UNITS};
pub use forward::{gru_forward, gru_forward_from, gru_forward_with};

use crate::device::Kernel;
pub use crate::ops::recurrent::RecurrentKernel;
use crate::ops::recurrent::{Params, checked};
use crate::tensor::Tensor;

pub(crate) const FORWARD: Kernel = Kernel {
    name: "gru_cell",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/recurrent.wgsl"),
        include_str!("../../../shaders/gru_cell.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[
        ("gru_step", 8),
        ("gru_step_reset", 8),
        ("gru_step_candidate", 8),
    ],
    trusted: false,
};

pub(crate) const BACKWARD: Kernel = Kernel {
    name: "gru_cell_backward",
    source: concat!(
        include_str!("../../../shaders/recurrent.wgsl"),
        include_str!("../../../shaders/gru_cell_backward.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[
        ("gru_backward_gates", 8),
        ("gru_backward_gates_reset", 8),
        ("gru_backward_reset", 8),
        ("gru_backward_h", 8),
        ("gru_backward_h_reset", 8),
    ],
    trusted: false,
};

/// The per-step kernels, and the persistent ones for a few units of each kind of plan, for
/// the shader check.
pub(crate) fn kernels() -> Vec<&'static Kernel> {
    let blocked = [
        &blocked::FORWARD,
        &blocked::FORWARD_RESET,
        &blocked::BACKWARD,
        &blocked::BACKWARD_RESET,
    ];
    [&FORWARD, &BACKWARD]
        .into_iter()
        .chain(blocked.into_iter().flat_map(checked))
        .collect()
}

/// Where the reset gate applies, as Keras's `reset_after`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::gru_cell::{GruReset, gru_forward};
/// let device = Device::cpu();
/// // B = 1, T = 1, U = 1, all zero: z = r = 0.5, so h = 0.5 · tanh(xp_h + 0.5 · rb_h).
/// let xp = Tensor::zeros(&device, [1, 1, 3])?;
/// let rk = Tensor::zeros(&device, [1, 3])?;
/// let rb = Tensor::from_vec(&device, [3], vec![0.0, 0.0, 2.0])?;
/// let h = gru_forward(&xp, &rk, GruReset::After(&rb), None)?.hseq.to_vec_blocking()?;
/// assert!((h[0] - 0.5 * 1f32.tanh()).abs() < 1e-6);
/// let h = gru_forward(&xp, &rk, GruReset::Before, None)?.hseq.to_vec_blocking()?;
/// assert_eq!(h[0], 0.0);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub enum GruReset<'a> {
    /// `reset_after=True` (Keras's default): `n = tanh(x_h + r ⊙ (h_prev · R_h + rb_h))`,
    /// with the recurrent bias `rb: [3U]` (row 1 of Keras's `bias [2, 3U]`) added to every
    /// gate's recurrent term.
    After(&'a Tensor),
    /// `reset_after=False`: `n = tanh(x_h + (r ⊙ h_prev) · R_h)`, one bias (in xp).
    Before,
}

/// What the forward pass keeps for the backward pass (and the outputs).
///
/// `hseq` is Keras's `GRU(return_sequences=True)` output; its last step (the state at the
/// last unmasked step) is `GRU`'s default output.
#[derive(Debug, Clone)]
pub struct GruStates {
    /// h after each step: `[B, T, U]` (the output sequence).
    pub hseq: Tensor,
    /// z, r, n after their activations: `[B, T, 3U]` (zeros at masked steps).
    pub gates: Tensor,
    /// h before each step: `[B, T, U]`.
    pub hprev: Tensor,
    /// n's recurrent term before the reset gate, `h_prev · R_h + rb_h`, with
    /// [`GruReset::After`]; the reset state `r ⊙ h_prev` with [`GruReset::Before`]: `[B, T, U]`
    /// (under recurrent dropout, with h_prev dropped by the h gate's mask: `(h_prev ⊙ r_h)`).
    pub hn: Tensor,
    /// Which variant ran (the backward pass follows it).
    pub reset_after: bool,
    /// The recurrent dropout masks the pass ran with: `[3, B, U]`, or `None` for none (see
    /// [`RecurrentInputs`](crate::ops::recurrent::RecurrentInputs)).
    pub rdrop: Option<Tensor>,
}
