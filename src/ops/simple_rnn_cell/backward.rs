//! SimpleRNN backpropagation through time on each device: the CPU twin, two dispatches per
//! step, or the persistent (row-blocked) kernel's one for all steps.

use super::blocked::{self, use_persistent};
use super::cell::SimpleRnnCell;
use super::{BACKWARD, RecurrentKernel, SimpleRnnStates};
use crate::device::Device;
use crate::error::Result;
use crate::ops::recurrent::{
    Params, StateGrads, backward_inputs, check_rdrop, cpu, dispatch_blocked, dispatch_steps,
    mask_binding,
};
use crate::ops::transpose::transpose;
use crate::ops::{buf, gpu_output, gpu_tensor, host};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Backpropagates through all T steps from the gradient of the last h (`dh_last`) and/or of
/// every step's h (`dy_seq`); returns dz: `[B, T, U]`, the gradient w.r.t. xp, from which
/// `dkernel = xᵀ dz`, `drecurrent = hprevᵀ dz`, `dbias = Σ dz` and `dx = dz kernelᵀ`. Under
/// recurrent dropout (the states' rdrop r), `drecurrent = (hprev ⊙ r)ᵀ dz` and the gradient
/// through h_prev is `(dz · rkᵀ) ⊙ r`.
///
/// # Errors
/// As [`simple_rnn_forward`](super::simple_rnn_forward), and
/// [`Error::Shape`](crate::Error::Shape) when dh_last is not `[B, U]` or dy_seq not
/// `[B, T, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::simple_rnn_cell::{simple_rnn_backward, simple_rnn_forward};
/// let device = Device::cpu();
/// let (xp, rk) = (Tensor::zeros(&device, [1, 1, 1])?, Tensor::zeros(&device, [1, 1])?);
/// let states = simple_rnn_forward(&xp, &rk, None)?; // h = tanh(0) = 0
/// let dh = Tensor::from_vec(&device, [1, 1], vec![2.0])?;
/// let dz = simple_rnn_backward(&states, &rk, None, Some(&dh), None)?;
/// assert_eq!(dz.to_vec_blocking()?, vec![2.0]); // dh · (1 - h²)
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn simple_rnn_backward(
    states: &SimpleRnnStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
) -> Result<Tensor> {
    simple_rnn_backward_with(states, rk, mask, dh_last, dy_seq, RecurrentKernel::Auto)
}

/// [`simple_rnn_backward`] with an explicit GPU kernel choice.
///
/// # Errors
/// As [`simple_rnn_backward`]; on a GPU also [`Error::Config`](crate::Error::Config) for
/// [`RecurrentKernel::Persistent`] with more than
/// [`PERSISTENT_MAX_UNITS`](crate::ops::recurrent::PERSISTENT_MAX_UNITS) units.
pub fn simple_rnn_backward_with(
    states: &SimpleRnnStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
    kernel: RecurrentKernel,
) -> Result<Tensor> {
    Ok(simple_rnn_backward_to_state(states, rk, mask, (dh_last, dy_seq), kernel)?.dz)
}

/// [`simple_rnn_backward_with`] that also gives the gradient of the initial state h0 the
/// forward pass started from
/// ([`simple_rnn_forward_from`](super::simple_rnn_forward_from)). `grads`: (dh_last, dy_seq);
/// `dc0` is `None`.
///
/// # Errors
/// As [`simple_rnn_backward_with`].
pub fn simple_rnn_backward_to_state(
    states: &SimpleRnnStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    (dh_last, dy_seq): (Option<&Tensor>, Option<&Tensor>),
    kernel: RecurrentKernel,
) -> Result<StateGrads> {
    let grads = (dh_last, dy_seq);
    let (device, (b, t, u), dh) = backward_inputs(
        ("simple_rnn_cell_backward", 1),
        &states.hseq,
        rk,
        mask,
        grads,
    )?;
    let rdrop = states.rdrop.as_ref();
    check_rdrop("simple_rnn_cell_backward", &device, (1, b, u), rdrop)?;
    let dz_shape = Shape(vec![b, t, u]);
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let dy = dy_seq.map(|d| host(d).f32().to_vec());
            let (hseq, hprev, rk) = (host(&states.hseq), host(&states.hprev), host(rk));
            // h is the cell's one gate; it has no auxiliary state (hseq stands in, unread)
            let r = rdrop.map(host);
            let saved = cpu::Saved {
                gates: hseq.f32(),
                aux: hseq.f32(),
                hprev: hprev.f32(),
                rdrop: r.as_ref().map(|r| r.f32()),
            };
            let dh = host(&dh).f32().to_vec();
            let dims = (b, t, u);
            let (dz, dh0, _) = cpu::backward(
                &SimpleRnnCell,
                saved,
                rk.f32(),
                (m.as_deref(), None),
                (dh, None),
                dy.as_deref(),
                dims,
            );
            Ok(StateGrads {
                dz: Tensor::from_vec(&device, dz_shape, dz)?,
                dh0: Tensor::from_vec(&device, [b, u], dh0)?,
                dc0: None,
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
                None => mask.map_or(buf(&rk_t), buf),
            };
            let dy_buf = dy_seq.map_or(buf(&states.hprev), buf);
            let all = [
                &dz,
                mask_buf,
                buf(&dh),
                buf(&rk_t),
                buf(&states.hseq),
                dy_buf,
            ];
            let entries = [
                ("rnn_backward_gates", &all[..]),
                ("rnn_backward_h", &all[..]),
            ];
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_rdrop(rdrop.is_some())
                    .with_dy_seq(dy_seq.is_some())
            };
            if use_persistent(ctx, kernel, u)? {
                dispatch_blocked(ctx, &blocked::BACKWARD, &all, params, (b, t, u))?;
            } else {
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
            // after step 0 the running dh is h0's gradient
            Ok(StateGrads {
                dz: gpu_tensor(&device, dz_shape, dz),
                dh0: dh,
                dc0: None,
            })
        }
    }
}
