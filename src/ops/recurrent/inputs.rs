//! What a recurrent forward pass reads besides xp and rk: the sequence mask, the initial state
//! and the recurrent dropout masks, one struct for every cell, and their checks.

use super::check_init;
use crate::device::Device;
use crate::error::Result;
use crate::ops::merge::concat;
use crate::ops::shape_error;
use crate::tensor::{DType, Tensor};

/// The optional inputs of a recurrent forward pass (`lstm_forward_from`, `gru_forward_from`,
/// `simple_rnn_forward_from`): the sequence mask `[B, T]`, the initial state (`S`: h0 `[B, U]`
/// for a GRU or SimpleRNN, (h0, c0) for an LSTM) and the recurrent dropout masks
/// `[G, B, U]`. Each builder takes an `Option`, so a layer passes what it has as it is.
///
/// `rdrop` holds one mask per gate (G = 4 for an LSTM, i, f, c, o; 3 for a GRU, z, r, h; 1
/// for a SimpleRNN), values 0 or `1 / (1 - rate)`, drawn once per call as Keras does: gate g's
/// recurrent product is `(h_prev ⊙ rdrop[g]) · rk[:, g]`. The states keep it, so the backward
/// pass applies it too; a masked step carries the undropped state; a GRU's `z ⊙ h_prev` reads
/// the undropped h_prev.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::recurrent::{RecurrentInputs, RecurrentKernel};
/// use wgfit::ops::simple_rnn_cell::simple_rnn_forward_from;
/// let device = Device::cpu();
/// // B = T = U = 1: h = tanh(xp + (h0 ⊙ r) · rk), with h0 = 0.5, rk = 1 and r = 2 (rate 0.5)
/// let xp = Tensor::zeros(&device, [1, 1, 1])?;
/// let rk = Tensor::from_vec(&device, [1, 1], vec![1.0])?;
/// let h0 = Tensor::from_vec(&device, [1, 1], vec![0.5])?;
/// let r = Tensor::from_vec(&device, [1, 1, 1], vec![2.0])?;
/// let inputs = RecurrentInputs::new().init(Some(&h0)).rdrop(Some(&r));
/// let s = simple_rnn_forward_from(&xp, &rk, inputs, RecurrentKernel::Auto)?;
/// assert_eq!(s.hseq.to_vec_blocking()?, vec![1f32.tanh()]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RecurrentInputs<'a, S = &'a Tensor> {
    /// `[B, T]`, 1.0 kept, 0.0 masked (a masked step carries the state); `None`: every step.
    pub mask: Option<&'a Tensor>,
    /// The state before step 0 (Keras's `initial_state`); `None`: zeros.
    pub init: Option<S>,
    /// The recurrent dropout masks `[G, B, U]`; `None`: no recurrent dropout.
    pub rdrop: Option<&'a Tensor>,
}

impl<S> Default for RecurrentInputs<'_, S> {
    fn default() -> Self {
        RecurrentInputs {
            mask: None,
            init: None,
            rdrop: None,
        }
    }
}

impl<'a, S> RecurrentInputs<'a, S> {
    /// No mask, a zero initial state, no recurrent dropout.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence mask `[B, T]`.
    #[must_use]
    pub fn mask(mut self, mask: Option<&'a Tensor>) -> Self {
        self.mask = mask;
        self
    }

    /// The initial state.
    #[must_use]
    pub fn init(mut self, init: Option<S>) -> Self {
        self.init = init;
        self
    }

    /// The recurrent dropout masks `[G, B, U]`.
    #[must_use]
    pub fn rdrop(mut self, rdrop: Option<&'a Tensor>) -> Self {
        self.rdrop = rdrop;
        self
    }
}

/// Checks recurrent dropout masks of cell `op` (of `gates` gates) for a sequence of `(B, U)`
/// on `device`: f32 `[G, B, U]` on that device.
pub(crate) fn check_rdrop(
    op: &str,
    device: &Device,
    (gates, b, u): (usize, usize, usize),
    rdrop: Option<&Tensor>,
) -> Result<()> {
    let Some(r) = rdrop else {
        return Ok(());
    };
    if !r.device().same_as(device) {
        return Err(crate::Error::Data(format!(
            "{op}: the recurrent dropout masks are on {} but the sequence is on {}; move \
             tensors to one device",
            r.device().info(),
            device.info()
        )));
    }
    r.expect_dtype(DType::F32, op)?;
    if r.dims() != [gates, b, u] {
        return Err(shape_error(
            op,
            &[Some(gates), Some(b), Some(u)],
            r.dims(),
            &format!(
                "the recurrent dropout masks must be [G, B, U]: one [B, U] mask per gate \
                 ({gates}), for the sequence's batch and units"
            ),
        ));
    }
    Ok(())
}

/// The initial state's and the masks' checks of a forward pass, `states` as [`check_init`].
pub(crate) fn check_forward(
    op: &str,
    device: &Device,
    (gates, b, u): (usize, usize, usize),
    states: &[(&str, &Tensor)],
    rdrop: Option<&Tensor>,
) -> Result<()> {
    check_init(op, device, (b, u), states)?;
    check_rdrop(op, device, (gates, b, u), rdrop)
}

/// The `mask` binding of a recurrent kernel under recurrent dropout: the sequence mask
/// `[B, T]` (or B·T zeros in its place) followed by rdrop `[G, B, U]`, element (g, b, j) at
/// `B·T + (g·B + b)·U + j` (`rdrop` in shaders/recurrent.wgsl); the kernels bind at most 8
/// storage buffers, so the masks share one. `None` without rdrop (or nothing to read): the
/// kernel binds the mask, or a filler, as it is.
pub(crate) fn mask_binding(
    mask: Option<&Tensor>,
    rdrop: Option<&Tensor>,
    (b, t): (usize, usize),
) -> Result<Option<Tensor>> {
    let Some(r) = rdrop.filter(|r| r.numel() > 0 && b * t > 0) else {
        return Ok(None);
    };
    let seq = match mask {
        Some(m) => m.reshape([b * t])?,
        None => Tensor::zeros(r.device(), [b * t])?,
    };
    let r = r.reshape([r.numel()])?;
    Ok(Some(concat(&[&seq, &r], 0)?))
}
