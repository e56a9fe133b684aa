//! The SimpleRNN forward pass over a sequence on each device: the CPU twin, per-step
//! dispatches or the persistent (row-blocked) kernel.

use super::blocked::{self, use_persistent};
use super::cell::SimpleRnnCell;
use super::{FORWARD, RecurrentKernel, SimpleRnnStates};
use crate::device::Device;
use crate::error::Result;
use crate::ops::recurrent::{
    Params, at_step0, check_init, cpu, dispatch_blocked, dispatch_steps, forward_inputs,
};
use crate::ops::{buf, gpu_output, gpu_tensor, host};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Runs the cell over all T steps: `h = tanh(xp + h_prev · rk)`, h starting at zero, a masked
/// step carrying h over unchanged.
///
/// xp: `[B, T, U]` (the input projection `x · kernel + bias`), rk: `[U, U]`, mask: `[B, T]`
/// (1.0 kept, 0.0 masked) or `None`.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when rk is not `[U, U]`, xp not `[B, T, U]` or the
/// mask not `[B, T]`; [`Error::Data`](crate::Error::Data) for tensors on two devices or of
/// dtype u32.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::simple_rnn_cell::simple_rnn_forward;
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 2, 1], vec![1.0, 5.0])?;
/// let rk = Tensor::zeros(&device, [1, 1])?;
/// let mask = Tensor::from_vec(&device, [1, 2], vec![1.0, 0.0])?; // step 1 is padding
/// let h = simple_rnn_forward(&xp, &rk, Some(&mask))?.hseq.to_vec_blocking()?;
/// assert_eq!(h, vec![1f32.tanh(), 1f32.tanh()]);
/// let bad = Tensor::zeros(&device, [1, 2])?;
/// assert!(matches!(simple_rnn_forward(&xp, &bad, None), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn simple_rnn_forward(
    xp: &Tensor,
    rk: &Tensor,
    mask: Option<&Tensor>,
) -> Result<SimpleRnnStates> {
    simple_rnn_forward_with(xp, rk, mask, RecurrentKernel::Auto)
}

/// [`simple_rnn_forward`] with an explicit GPU kernel choice.
///
/// # Errors
/// As [`simple_rnn_forward`]; on a GPU also [`Error::Config`](crate::Error::Config) for
/// [`RecurrentKernel::Persistent`] with more than
/// [`PERSISTENT_MAX_UNITS`](crate::ops::recurrent::PERSISTENT_MAX_UNITS) units.
pub fn simple_rnn_forward_with(
    xp: &Tensor,
    rk: &Tensor,
    mask: Option<&Tensor>,
    kernel: RecurrentKernel,
) -> Result<SimpleRnnStates> {
    simple_rnn_forward_from(xp, rk, (mask, None), kernel)
}

/// [`simple_rnn_forward_with`] from the initial state `h0: [B, U]` (Keras's `initial_state`;
/// `None`: zeros), with the mask: `(mask, h0)`. A masked first step carries h0;
/// [`simple_rnn_backward_to_state`](super::simple_rnn_backward_to_state) gives h0's gradient.
///
/// # Errors
/// As [`simple_rnn_forward_with`], and [`Error::Shape`](crate::Error::Shape) when h0 is not
/// `[B, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::recurrent::RecurrentKernel;
/// use wgfit::ops::simple_rnn_cell::simple_rnn_forward_from;
/// let device = Device::cpu();
/// // B = T = U = 1: h = tanh(xp + h0 · rk)
/// let xp = Tensor::zeros(&device, [1, 1, 1])?;
/// let rk = Tensor::from_vec(&device, [1, 1], vec![2.0])?;
/// let h0 = Tensor::from_vec(&device, [1, 1], vec![0.25])?;
/// let s = simple_rnn_forward_from(&xp, &rk, (None, Some(&h0)), RecurrentKernel::Auto)?;
/// assert_eq!(s.hseq.to_vec_blocking()?, vec![0.5f32.tanh()]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn simple_rnn_forward_from(
    xp: &Tensor,
    rk: &Tensor,
    (mask, h0): (Option<&Tensor>, Option<&Tensor>),
    kernel: RecurrentKernel,
) -> Result<SimpleRnnStates> {
    let (device, (b, t, u)) = forward_inputs(("simple_rnn_cell", 1), xp, rk, None, mask)?;
    if let Some(h0) = h0 {
        check_init("simple_rnn_cell", &device, (b, u), &[("h0", h0)])?;
    }
    let seq = Shape(vec![b, t, u]);
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let (xp, rk) = (host(xp), host(rk));
            let h0 = h0.map(host);
            let init = cpu::Init {
                h: h0.as_ref().map(|h| h.f32()),
                aux: None,
            };
            let (hseq, _, _, hprev) = cpu::forward(
                &SimpleRnnCell,
                xp.f32(),
                rk.f32(),
                (m.as_deref(), init),
                (b, t, u),
            );
            Ok(SimpleRnnStates {
                hseq: Tensor::from_vec(&device, seq.clone(), hseq)?,
                hprev: Tensor::from_vec(&device, seq, hprev)?,
            })
        }
        Device::Gpu(ctx) => {
            let hseq = gpu_output(ctx, &seq)?;
            // From an initial state, step 0 reads h0 from hprev.
            let hprev = match h0 {
                Some(h0) => at_step0(h0, t)?,
                None => gpu_tensor(&device, seq.clone(), gpu_output(ctx, &seq)?),
            };
            let mask_buf = mask.map_or(buf(xp), buf);
            let all = [buf(xp), buf(rk), mask_buf, &hseq, buf(&hprev)];
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_init(h0.is_some())
            };
            if use_persistent(ctx, kernel, u)? {
                dispatch_blocked(ctx, &blocked::FORWARD, &all, params, (b, t, u))?;
            } else {
                let entries = [("rnn_step", &all[..])];
                let steps = 0..t as u32;
                dispatch_steps(ctx, &FORWARD, &entries, steps, |s| params(s, s + 1), (b, u))?;
            }
            Ok(SimpleRnnStates {
                hseq: gpu_tensor(&device, seq, hseq),
                hprev,
            })
        }
    }
}
