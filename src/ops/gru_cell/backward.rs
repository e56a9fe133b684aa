//! GRU backpropagation through time on each device: the CPU twin, two (reset_after) or
//! three (reset before the product) dispatches per step, or the persistent (row-blocked)
//! kernel's one for all steps.

use super::blocked::{backward_kernel, use_persistent};
use super::cell::GruCell;
use super::{BACKWARD, GruStates, RecurrentKernel};
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
/// every step's h (`dy_seq`); returns dz: `[B, T, 3U]`, the gradient w.r.t. xp.
///
/// `states`, rk and mask are the forward pass's; dh_last: `[B, U]` (a `GRU` that returns its
/// last state), dy_seq: `[B, T, U]` (`return_sequences=True`); `None` for both gives a zero
/// dz. From dz: `dkernel = xᵀ dz`, `dinput_bias = Σ dz`, `dx = dz kernelᵀ`; the recurrent
/// kernel's gradient is `hprevᵀ dhz` with `dhz = dz` but for the h columns, which are
/// `dz_h ⊙ r` (reset_after; `Σ dhz` is the recurrent bias's gradient) or, before the product,
/// `hnᵀ dz_h` for R_h. Under recurrent dropout (the states' rdrop) gate g's rows use
/// `(hprev ⊙ r_g)` for hprev (hn already holds the dropped h_prev), and the gradient through
/// h_prev is `Σ_g (dhz_g · rk_gᵀ) ⊙ r_g` plus the undropped `dh ⊙ z`.
///
/// # Errors
/// As [`gru_forward`](super::gru_forward), and [`Error::Shape`](crate::Error::Shape) when
/// dh_last is not `[B, U]` or dy_seq not `[B, T, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::gru_cell::{GruReset, gru_backward, gru_forward};
/// let device = Device::cpu();
/// // B = T = U = 1 with zero inputs: z = r = 0.5, n = 0, h = 0.
/// let (xp, rk) = (Tensor::zeros(&device, [1, 1, 3])?, Tensor::zeros(&device, [1, 3])?);
/// let states = gru_forward(&xp, &rk, GruReset::Before, None)?;
/// let dh = Tensor::from_vec(&device, [1, 1], vec![1.0])?;
/// let dz = gru_backward(&states, &rk, None, Some(&dh), None)?;
/// // dh reaches n's pre-activation through (1 - z)·(1 - n²) = 0.5,
/// // z's through (h_prev - n)·z(1 - z) = 0.
/// assert_eq!(dz.to_vec_blocking()?, vec![0.0, 0.0, 0.5]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn gru_backward(
    states: &GruStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
) -> Result<Tensor> {
    gru_backward_with(states, rk, mask, dh_last, dy_seq, RecurrentKernel::Auto)
}

/// [`gru_backward`] with an explicit GPU kernel choice.
///
/// # Errors
/// As [`gru_backward`]; on a GPU also [`Error::Config`](crate::Error::Config) for
/// [`RecurrentKernel::Persistent`] with more than
/// [`PERSISTENT_MAX_UNITS`](crate::ops::recurrent::PERSISTENT_MAX_UNITS) units.
pub fn gru_backward_with(
    states: &GruStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
    kernel: RecurrentKernel,
) -> Result<Tensor> {
    Ok(gru_backward_to_state(states, rk, mask, (dh_last, dy_seq), kernel)?.dz)
}

/// [`gru_backward_with`] that also gives the gradient of the initial state h0 the forward pass
/// started from ([`gru_forward_from`](super::gru_forward_from); from zeros, the gradient a
/// zero initial state would have). `grads`: (dh_last, dy_seq); `dc0` is `None`.
///
/// # Errors
/// As [`gru_backward_with`].
pub fn gru_backward_to_state(
    states: &GruStates,
    rk: &Tensor,
    mask: Option<&Tensor>,
    (dh_last, dy_seq): (Option<&Tensor>, Option<&Tensor>),
    kernel: RecurrentKernel,
) -> Result<StateGrads> {
    let grads = (dh_last, dy_seq);
    let (device, (b, t, u), dh) =
        backward_inputs(("gru_cell_backward", 3), &states.gates, rk, mask, grads)?;
    let rdrop = states.rdrop.as_ref();
    check_rdrop("gru_cell_backward", &device, (3, b, u), rdrop)?;
    let dz_shape = Shape(vec![b, t, 3 * u]);
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let dy = dy_seq.map(|d| host(d).f32().to_vec());
            // The recurrent bias is in hn already: the cell only needs to know the variant.
            let rk = host(rk);
            let cell = GruCell {
                rk: rk.f32(),
                rb: states.reset_after.then_some(&[][..]),
            };
            let (gates, hn, hprev) = (host(&states.gates), host(&states.hn), host(&states.hprev));
            let r = rdrop.map(host);
            let saved = cpu::Saved {
                gates: gates.f32(),
                aux: hn.f32(),
                hprev: hprev.f32(),
                rdrop: r.as_ref().map(|r| r.f32()),
            };
            let dh = host(&dh).f32().to_vec();
            let dims = (b, t, u);
            let (dz, dh0, _) = cpu::backward(
                &cell,
                saved,
                cell.rk,
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
            let dy_buf = dy_seq.map_or(buf(&states.hn), buf);
            let all = [
                &dz,
                mask_buf,
                buf(&dh),
                buf(&rk_t),
                buf(&states.gates),
                buf(&states.hn),
                buf(&states.hprev),
                dy_buf,
            ];
            let entries: &[_] = if states.reset_after {
                &[
                    ("gru_backward_gates", &all[..]),
                    ("gru_backward_h", &all[..]),
                ]
            } else {
                &[
                    ("gru_backward_gates_reset", &all[..]),
                    ("gru_backward_reset", &all[..]),
                    ("gru_backward_h_reset", &all[..]),
                ]
            };
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_rdrop(rdrop.is_some())
                    .with_dy_seq(dy_seq.is_some())
            };
            if use_persistent(ctx, kernel, u)? {
                let blocked = backward_kernel(states.reset_after);
                dispatch_blocked(ctx, blocked, &all, params, (b, t, u))?;
            } else {
                let steps = (0..t as u32).rev();
                dispatch_steps(ctx, &BACKWARD, entries, steps, |s| params(s, s + 1), (b, u))?;
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
