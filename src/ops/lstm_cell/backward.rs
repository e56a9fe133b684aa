//! Backpropagation through time on each device: the CPU twin, two dispatches per step or the
//! persistent (row-blocked) kernel.

use super::blocked;
use super::choice::RULE;
use super::cpu::LstmCell;
use super::{BACKWARD, LstmKernel, LstmStates};
use crate::device::Device;
use crate::error::Result;
use crate::ops::elementwise::affine;
use crate::ops::merge::{concat, slice};
use crate::ops::recurrent::{
    Params, StateGrads, backward_inputs, check_init, check_rdrop, cpu, dispatch_blocked,
    dispatch_steps, mask_binding, use_persistent,
};
use crate::ops::transpose::transpose;
use crate::ops::{buf, gpu_output, gpu_tensor, host};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Backpropagates through all T steps from the gradient of the last h (`dh_last`) and/or of
/// every step's h (`dy_seq`); returns dz: `[B, T, 4U]`.
///
/// `states`, rk and mask are the forward pass's; dh_last: `[B, U]` (an `LSTM` that returns
/// its last state), dy_seq: `[B, T, U]` (`return_sequences=True`); `None` for both gives a
/// zero dz. dz is the gradient w.r.t. the gates' pre-activations (xp), from which
/// `dkernel = xᵀ dz`, `drecurrent = hprevᵀ dz`, `dbias = Σ dz` and `dx = dz kernelᵀ`. Under
/// recurrent dropout (the states' rdrop), gate g's `drecurrent[:, g] = (hprev ⊙ r_g)ᵀ dz_g`
/// and the gradient through h_prev is `Σ_g (dz_g · rk_gᵀ) ⊙ r_g`.
///
/// # Errors
/// As [`lstm_forward`](super::lstm_forward), and [`Error::Shape`](crate::Error::Shape) when dh_last is not
/// `[B, U]` or dy_seq not `[B, T, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::{lstm_backward, lstm_forward};
/// let device = Device::cpu();
/// // B = T = U = 1 with zero inputs: i = f = o = 0.5, g = 0, c = h = 0.
/// let (xp, rk) = (Tensor::zeros(&device, [1, 1, 4])?, Tensor::zeros(&device, [1, 4])?);
/// let states = lstm_forward(&xp, &rk, None)?;
/// let dh = Tensor::from_vec(&device, [1, 1], vec![1.0])?;
/// let dz = lstm_backward(&states, &rk, None, Some(&dh), None)?;
/// // dh flows to c through o·(1 - tanh²c) = 0.5, then to g's pre-activation through i = 0.5.
/// assert_eq!(dz.to_vec_blocking()?, vec![0.0, 0.0, 0.25, 0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn lstm_backward(
    states: &LstmStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
) -> Result<Tensor> {
    lstm_backward_with(states, rk, mask, dh_last, dy_seq, LstmKernel::Auto)
}

/// [`lstm_backward`] with an explicit GPU kernel (the CPU ignores it): two dispatches per step,
/// or the persistent kernel's one for all steps.
///
/// # Errors
/// As [`lstm_backward`]; on a GPU also [`Error::Config`](crate::Error::Config) for
/// [`LstmKernel::Persistent`] with more than [`PERSISTENT_MAX_UNITS`](super::PERSISTENT_MAX_UNITS) units.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::{LstmKernel, lstm_backward_with, lstm_forward};
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 3, 8], (0..24).map(|i| i as f32 / 24.0).collect())?;
/// let rk = Tensor::from_vec(&device, [2, 8], vec![0.1; 16])?;
/// let s = lstm_forward(&xp, &rk, None)?;
/// let dh = Tensor::from_vec(&device, [1, 2], vec![1.0, -1.0])?;
/// let a = lstm_backward_with(&s, &rk, None, Some(&dh), None, LstmKernel::PerStep)?;
/// let b = lstm_backward_with(&s, &rk, None, Some(&dh), None, LstmKernel::Persistent)?;
/// assert_eq!(a.to_vec_blocking()?, b.to_vec_blocking()?);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn lstm_backward_with(
    states: &LstmStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
    kernel: LstmKernel,
) -> Result<Tensor> {
    Ok(lstm_backward_to_state(states, rk, mask, (dh_last, None, dy_seq), kernel)?.dz)
}

/// [`lstm_backward_with`] that also gives the gradients of the initial state (h0, c0) the
/// forward pass started from ([`lstm_forward_from`](super::lstm_forward_from); zeros there
/// give the gradients a zero initial state would have). `grads`: (dh_last, dc_last, dy_seq),
/// dc_last `[B, U]` being the gradient of the last c (an `LSTM(return_state=True)`'s third
/// output).
///
/// # Errors
/// As [`lstm_backward_with`].
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::{LstmKernel, lstm_backward_to_state, lstm_forward_from};
/// use wgfit::ops::recurrent::RecurrentInputs;
/// let device = Device::cpu();
/// // B = T = U = 1, zero inputs and recurrent kernel: f = 0.5, so c = 0.5·c0 + 0.
/// let (xp, rk) = (Tensor::zeros(&device, [1, 1, 4])?, Tensor::zeros(&device, [1, 4])?);
/// let (h0, c0) = (Tensor::zeros(&device, [1, 1])?, Tensor::zeros(&device, [1, 1])?);
/// let inputs = RecurrentInputs::new().init(Some((&h0, &c0)));
/// let s = lstm_forward_from(&xp, &rk, inputs, LstmKernel::Auto)?;
/// let dh = Tensor::from_vec(&device, [1, 1], vec![1.0])?;
/// let g = lstm_backward_to_state(&s, &rk, None, (Some(&dh), None, None), LstmKernel::Auto)?;
/// // dc = dh·o·(1 - tanh²c) = 0.5, and dc0 = dc·f = 0.25; h0 meets a zero recurrent kernel.
/// assert_eq!(g.dc0.unwrap().to_vec_blocking()?, vec![0.25]);
/// assert_eq!(g.dh0.to_vec_blocking()?, vec![0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn lstm_backward_to_state(
    states: &LstmStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    (dh_last, dc_last, dy_seq): (Option<&Tensor>, Option<&Tensor>, Option<&Tensor>),
    kernel: LstmKernel,
) -> Result<StateGrads> {
    let grads = (dh_last, dy_seq);
    let (device, (b, t, u), dh) =
        backward_inputs(("lstm_cell_backward", 4), &states.gates, rk, mask, grads)?;
    let dz_shape = Shape(vec![b, t, 4 * u]);
    let c0 = states.c0.as_ref();
    let named = [("c0", c0), ("dc_last", dc_last)];
    let given: Vec<(&str, &Tensor)> = named.iter().filter_map(|&(n, t)| Some((n, t?))).collect();
    check_init("lstm_cell_backward", &device, (b, u), &given)?;
    let rdrop = states.rdrop.as_ref();
    check_rdrop("lstm_cell_backward", &device, (4, b, u), rdrop)?;
    // the running dc (from dc_last, or zero), then (read at step 0) c0: one binding for both
    let dc_start = match dc_last {
        Some(d) => affine(d, 1.0, 0.0)?,
        None => Tensor::zeros(&device, [b, u])?,
    };
    let dc = match c0 {
        Some(c0) => concat(&[&dc_start, c0], 0)?,
        None => dc_start,
    };
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let dy = dy_seq.map(|d| host(d).f32().to_vec());
            let (gates, cseq, hprev) =
                (host(&states.gates), host(&states.cseq), host(&states.hprev));
            let r = rdrop.map(host);
            let saved = cpu::Saved {
                gates: gates.f32(),
                aux: cseq.f32(),
                hprev: hprev.f32(),
                rdrop: r.as_ref().map(|r| r.f32()),
            };
            let (dh, rk) = (host(&dh).f32().to_vec(), host(rk));
            let (c0, dc_last) = (c0.map(host), dc_last.map(host));
            let (dz, dh0, dc0) = cpu::backward(
                &LstmCell,
                saved,
                rk.f32(),
                (m.as_deref(), c0.as_ref().map(|c| c.f32())),
                (dh, dc_last.as_ref().map(|d| d.f32())),
                dy.as_deref(),
                (b, t, u),
            );
            Ok(StateGrads {
                dz: Tensor::from_vec(&device, dz_shape, dz)?,
                dh0: Tensor::from_vec(&device, [b, u], dh0)?,
                dc0: Some(Tensor::from_vec(&device, [b, u], dc0)?),
            })
        }
        Device::Gpu(ctx) => {
            let dz = gpu_output(ctx, &dz_shape)?;
            // The kernels read rk transposed: neighbouring units, neighbouring addresses.
            let rk_t = transpose(rk)?;
            // the sequence mask, and the recurrent dropout masks after it
            let with_rdrop = mask_binding(mask, rdrop, (b, t))?;
            let mask_buf = match &with_rdrop {
                Some(m) => buf(m),
                None => mask.map_or(buf(rk), buf),
            };
            let dy_buf = dy_seq.map_or(buf(&states.cseq), buf);
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_rdrop(rdrop.is_some())
                    .with_dy_seq(dy_seq.is_some())
                    .with_init(c0.is_some())
            };
            let all = [
                &dz,
                mask_buf,
                buf(&dh),
                buf(&rk_t),
                buf(&states.gates),
                buf(&states.cseq),
                buf(&dc),
                dy_buf,
            ];
            if use_persistent(ctx, kernel, u, &RULE)? {
                // Ranges of steps, the last first, each carrying on from the dh and dc the one
                // before left (one range on a hardware GPU).
                dispatch_blocked(ctx, &blocked::BACKWARD, &all, params, (b, t, u))?;
            } else {
                let entries = [
                    ("lstm_backward_gates", &all[..]),
                    ("lstm_backward_h", &all[..4]),
                ];
                let steps = (0..t as u32).rev();
                dispatch_steps(
                    ctx,
                    &BACKWARD,
                    &entries,
                    steps,
                    |s| params(s, s + 1),
                    (b, u),
                )?;
            }
            // after step 0 the running gradients are the initial state's
            let dc0 = match c0 {
                Some(_) => slice(&dc, 0, 0, b)?,
                None => dc,
            };
            Ok(StateGrads {
                dz: gpu_tensor(&device, dz_shape, dz),
                dh0: dh,
                dc0: Some(dc0),
            })
        }
    }
}
