//! The forward pass over a sequence on each device: the CPU twin, per-step dispatches or the
//! persistent (row-blocked) kernel.

use super::blocked;
use super::choice::RULE;
use super::cpu::LstmCell;
use super::{FORWARD, LstmKernel, LstmStates};
use crate::device::Device;
use crate::error::Result;
use crate::ops::recurrent::{
    Params, RecurrentInputs, at_step0, check_forward, cpu, dispatch_blocked, dispatch_steps,
    forward_inputs, mask_binding, use_persistent,
};
use crate::ops::{buf, gpu_output, gpu_tensor, host};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Runs the cell over all T steps, with the kernel chosen for the shape.
///
/// xp: `[B, T, 4U]` (the input projection `x · kernel + bias`, gates in the order i, f, g,
/// o), rk: `[U, 4U]` (the recurrent kernel), mask: `[B, T]` (1.0 kept, 0.0 masked) or `None`.
/// The state starts at zero; a masked step carries h and c over unchanged.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when rk is not `[U, 4U]`, xp not `[B, T, 4U]` or the
/// mask not `[B, T]`; [`Error::Data`](crate::Error::Data) for tensors on two devices or of
/// dtype u32.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::lstm_cell::lstm_forward;
/// let device = Device::cpu();
/// // B = 1, T = 2, U = 1; recurrent kernel 0, so each step sees only its own xp.
/// let xp = Tensor::from_vec(&device, [1, 2, 4], vec![0.0, 0.0, 1.0, 0.0, 5.0, 5.0, 5.0, 5.0])?;
/// let rk = Tensor::zeros(&device, [1, 4])?;
/// let mask = Tensor::from_vec(&device, [1, 2], vec![1.0, 0.0])?; // step 1 is padding
/// let c = lstm_forward(&xp, &rk, Some(&mask))?.cseq.to_vec_blocking()?;
/// assert!((c[0] - 0.5 * 1f32.tanh()).abs() < 1e-6); // c = σ(0)·tanh(1)
/// assert_eq!(c[1], c[0]); // the masked step keeps the state
/// let bad = Tensor::zeros(&device, [1, 3])?;
/// assert!(matches!(lstm_forward(&xp, &bad, None), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn lstm_forward(xp: &Tensor, rk: &Tensor, mask: Option<&Tensor>) -> Result<LstmStates> {
    lstm_forward_with(xp, rk, mask, LstmKernel::Auto)
}

/// [`lstm_forward`] with an explicit GPU kernel (the CPU ignores it); example at
/// [`LstmKernel`].
///
/// # Errors
/// As [`lstm_forward`]; on a GPU also [`Error::Config`](crate::Error::Config) for
/// [`LstmKernel::Persistent`] with more than [`PERSISTENT_MAX_UNITS`](super::PERSISTENT_MAX_UNITS) units.
pub fn lstm_forward_with(
    xp: &Tensor,
    rk: &Tensor,
    mask: Option<&Tensor>,
    kernel: LstmKernel,
) -> Result<LstmStates> {
    lstm_forward_from(xp, rk, RecurrentInputs::new().mask(mask), kernel)
}

/// [`lstm_forward_with`] with all of its optional inputs (see [`RecurrentInputs`]): the mask,
/// the initial state `init` = (h0, c0), each `[B, U]` (Keras's `initial_state`; `None`:
/// zeros), and the recurrent dropout masks rdrop `[4, B, U]` (gates i, f, c, o). A masked
/// first step carries the initial state; the states keep c0 and rdrop for the backward pass,
/// whose [`lstm_backward_to_state`](super::lstm_backward_to_state) gives the initial state's
/// gradients.
///
/// # Errors
/// As [`lstm_forward_with`], and [`Error::Shape`](crate::Error::Shape) when h0 or c0 is not
/// `[B, U]` or rdrop not `[4, B, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::{LstmKernel, lstm_forward_from, lstm_forward_with};
/// use wgfit::ops::recurrent::RecurrentInputs;
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 2, 8], (0..16).map(|i| i as f32 / 16.0).collect())?;
/// let rk = Tensor::from_vec(&device, [2, 8], vec![0.1; 16])?;
/// let zero = Tensor::zeros(&device, [1, 2])?;
/// let c0 = Tensor::from_vec(&device, [1, 2], vec![1.0, -1.0])?;
/// let plain = lstm_forward_with(&xp, &rk, None, LstmKernel::Auto)?.hseq.to_vec_blocking()?;
/// let k = LstmKernel::Auto;
/// let from_zero = RecurrentInputs::new().init(Some((&zero, &zero)));
/// assert_eq!(lstm_forward_from(&xp, &rk, from_zero, k)?.hseq.to_vec_blocking()?, plain);
/// let from_c0 = RecurrentInputs::new().init(Some((&zero, &c0)));
/// assert_ne!(lstm_forward_from(&xp, &rk, from_c0, k)?.hseq.to_vec_blocking()?, plain);
/// // recurrent dropout masks of all ones drop nothing
/// let ones = Tensor::from_vec(&device, [4, 1, 2], vec![1.0; 8])?;
/// let kept = lstm_forward_from(&xp, &rk, RecurrentInputs::new().rdrop(Some(&ones)), k)?;
/// assert_eq!(kept.hseq.to_vec_blocking()?, plain);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn lstm_forward_from(
    xp: &Tensor,
    rk: &Tensor,
    inputs: RecurrentInputs<'_, (&Tensor, &Tensor)>,
    kernel: LstmKernel,
) -> Result<LstmStates> {
    let RecurrentInputs { mask, init, rdrop } = inputs;
    let (device, (b, t, u)) = forward_inputs(("lstm_cell", 4), xp, rk, None, mask)?;
    let states: &[_] = match init {
        Some((h0, c0)) => &[("h0", h0), ("c0", c0)],
        None => &[],
    };
    check_forward("lstm_cell", &device, (4, b, u), states, rdrop)?;
    let c0 = init.map(|(_, c0)| c0.clone());
    let seq = Shape(vec![b, t, u]);
    let gate_shape = Shape(vec![b, t, 4 * u]);
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let (xp, rk) = (host(xp), host(rk));
            let (h0, c0r) = (init.map(|s| host(s.0)), init.map(|s| host(s.1)));
            let start = cpu::Init {
                h: h0.as_ref().map(|h| h.f32()),
                aux: c0r.as_ref().map(|c| c.f32()),
            };
            let r = rdrop.map(host);
            let r = r.as_ref().map(|r| r.f32());
            let s = cpu::forward(
                &LstmCell,
                xp.f32(),
                rk.f32(),
                (m.as_deref(), start, r),
                (b, t, u),
            );
            Ok(LstmStates {
                hseq: Tensor::from_vec(&device, seq.clone(), s.0)?,
                cseq: Tensor::from_vec(&device, seq.clone(), s.1)?,
                gates: Tensor::from_vec(&device, gate_shape, s.2)?,
                hprev: Tensor::from_vec(&device, seq, s.3)?,
                c0,
                rdrop: rdrop.cloned(),
            })
        }
        Device::Gpu(ctx) => {
            let hseq = gpu_output(ctx, &seq)?;
            let gates = gpu_output(ctx, &gate_shape)?;
            // From an initial state, step 0 reads h0 from hprev and c0 from cseq.
            let (hprev, cseq) = match init {
                Some((h0, c0)) => (at_step0(h0, t)?, at_step0(c0, t)?),
                None => (
                    gpu_tensor(&device, seq.clone(), gpu_output(ctx, &seq)?),
                    gpu_tensor(&device, seq.clone(), gpu_output(ctx, &seq)?),
                ),
            };
            // the sequence mask, and the recurrent dropout masks after it
            let with_rdrop = mask_binding(mask, rdrop, (b, t))?;
            let mask_buf = match &with_rdrop {
                Some(m) => buf(m),
                None => mask.map_or(buf(xp), buf),
            };
            let persistent = use_persistent(ctx, kernel, u, &RULE)?;
            let (cseq_buf, hprev_buf) = (buf(&cseq), buf(&hprev));
            let all = [
                buf(xp),
                buf(rk),
                mask_buf,
                &hseq,
                cseq_buf,
                &gates,
                hprev_buf,
            ];
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_rdrop(rdrop.is_some())
                    .with_init(init.is_some())
            };
            if persistent {
                dispatch_blocked(ctx, &blocked::FORWARD, &all, params, (b, t, u))?;
            }
            let steps = (0..t as u32).filter(|_| !persistent);
            let entries = [("lstm_step", &all[..])];
            dispatch_steps(ctx, &FORWARD, &entries, steps, |s| params(s, s + 1), (b, u))?;
            Ok(LstmStates {
                hseq: gpu_tensor(&device, seq, hseq),
                cseq,
                gates: gpu_tensor(&device, gate_shape, gates),
                hprev,
                c0,
                rdrop: rdrop.cloned(),
            })
        }
    }
}
