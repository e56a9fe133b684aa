//! The SimpleRNN forward pass over a sequence on each device: the CPU twin, per-step
//! dispatches or the persistent (row-blocked) kernel.

use super::blocked::{self, use_persistent};
use super::cell::SimpleRnnCell;
use super::{FORWARD, RecurrentKernel, SimpleRnnStates};
use crate::device::Device;
use crate::error::Result;
use crate::ops::recurrent::{
    Params, RecurrentInputs, at_step0, check_forward, cpu, dispatch_blocked, dispatch_steps,
    forward_inputs, mask_binding,
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
    simple_rnn_forward_from(xp, rk, RecurrentInputs::new().mask(mask), kernel)
}

/// [`simple_rnn_forward_with`] with all of its optional inputs (see [`RecurrentInputs`]): the
/// mask, the initial state `h0: [B, U]` (Keras's `initial_state`; `None`: zeros) and the
/// recurrent dropout mask rdrop `[1, B, U]`: `h = tanh(xp + (h_prev ⊙ r) · rk)`. A masked
/// first step carries h0; [`simple_rnn_backward_to_state`](super::simple_rnn_backward_to_state)
/// gives h0's gradient.
///
/// # Errors
/// As [`simple_rnn_forward_with`], and [`Error::Shape`](crate::Error::Shape) when h0 is not
/// `[B, U]` or rdrop not `[1, B, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::recurrent::{RecurrentInputs, RecurrentKernel};
/// use wgfit::ops::simple_rnn_cell::simple_rnn_forward_from;
/// let device = Device::cpu();
/// // B = T = U = 1: h = tanh(xp + h0 · rk)
/// let xp = Tensor::zeros(&device, [1, 1, 1])?;
/// let rk = Tensor::from_vec(&device, [1, 1], vec![2.0])?;
/// let h0 = Tensor::from_vec(&device, [1, 1], vec![0.25])?;
/// let inputs = RecurrentInputs::new().init(Some(&h0));
/// let s = simple_rnn_forward_from(&xp, &rk, inputs, RecurrentKernel::Auto)?;
/// assert_eq!(s.hseq.to_vec_blocking()?, vec![0.5f32.tanh()]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn simple_rnn_forward_from(
    xp: &Tensor,
    rk: &Tensor,
    inputs: RecurrentInputs<'_>,
    kernel: RecurrentKernel,
) -> Result<SimpleRnnStates> {
    let RecurrentInputs {
        mask,
        init: h0,
        rdrop,
    } = inputs;
    let (device, (b, t, u)) = forward_inputs(("simple_rnn_cell", 1), xp, rk, None, mask)?;
    let states: &[_] = match h0 {
        Some(h0) => &[("h0", h0)],
        None => &[],
    };
    check_forward("simple_rnn_cell", &device, (1, b, u), states, rdrop)?;
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
            let r = rdrop.map(host);
            let (hseq, _, _, hprev) = cpu::forward(
                &SimpleRnnCell,
                xp.f32(),
                rk.f32(),
                (m.as_deref(), init, r.as_ref().map(|r| r.f32())),
                (b, t, u),
            );
            Ok(SimpleRnnStates {
                hseq: Tensor::from_vec(&device, seq.clone(), hseq)?,
                hprev: Tensor::from_vec(&device, seq, hprev)?,
                rdrop: rdrop.cloned(),
            })
        }
        Device::Gpu(ctx) => {
            let hseq = gpu_output(ctx, &seq)?;
            // From an initial state, step 0 reads h0 from hprev.
            let hprev = match h0 {
                Some(h0) => at_step0(h0, t)?,
                None => gpu_tensor(&device, seq.clone(), gpu_output(ctx, &seq)?),
            };
            // the sequence mask, and the recurrent dropout masks after it
            let with_rdrop = mask_binding(mask, rdrop, (b, t))?;
            let mask_buf = match &with_rdrop {
                Some(m) => buf(m),
                None => mask.map_or(buf(xp), buf),
            };
            let all = [buf(xp), buf(rk), mask_buf, &hseq, buf(&hprev)];
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_rdrop(rdrop.is_some())
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
                rdrop: rdrop.cloned(),
            })
        }
    }
}
