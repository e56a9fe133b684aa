//! The GRU forward pass over a sequence on each device: the CPU twin, per-step dispatches or
//! the persistent (row-blocked) kernel.

use super::blocked::{forward_kernel, use_persistent};
use super::cell::GruCell;
use super::{FORWARD, GruReset, GruStates, RecurrentKernel};
use crate::device::Device;
use crate::error::Result;
use crate::ops::recurrent::{
    Params, RecurrentInputs, at_step0, check_forward, cpu, dispatch_blocked, dispatch_steps,
    forward_inputs, mask_binding,
};
use crate::ops::{buf, gpu_output, gpu_tensor, host, shape_error};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Runs the cell over all T steps, with the GPU kernel chosen for the shape.
///
/// xp: `[B, T, 3U]` (the input projection `x · kernel + input bias`, gates in the order z,
/// r, h), rk: `[U, 3U]` (the recurrent kernel), `reset` (with the recurrent bias `[3U]` for
/// `reset_after`), mask: `[B, T]` (1.0 kept, 0.0 masked) or `None`. The state starts at zero;
/// a masked step carries h over unchanged.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when rk is not `[U, 3U]`, xp not `[B, T, 3U]`, the
/// recurrent bias not `[3U]` or the mask not `[B, T]`; [`Error::Data`](crate::Error::Data)
/// for tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::gru_cell::{GruReset, gru_forward};
/// let device = Device::cpu();
/// // B = 1, T = 2, U = 1; recurrent kernel 0, so each step sees only its own xp.
/// let xp = Tensor::from_vec(&device, [1, 2, 3], vec![0.0, 0.0, 1.0, 5.0, 5.0, 5.0])?;
/// let rk = Tensor::zeros(&device, [1, 3])?;
/// let mask = Tensor::from_vec(&device, [1, 2], vec![1.0, 0.0])?; // step 1 is padding
/// let h = gru_forward(&xp, &rk, GruReset::Before, Some(&mask))?.hseq.to_vec_blocking()?;
/// assert!((h[0] - 0.5 * 1f32.tanh()).abs() < 1e-6); // h = (1 - σ(0))·tanh(1)
/// assert_eq!(h[1], h[0]); // the masked step keeps the state
/// let bad = Tensor::zeros(&device, [1, 4])?;
/// assert!(matches!(gru_forward(&xp, &bad, GruReset::Before, None), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn gru_forward(
    xp: &Tensor,
    rk: &Tensor,
    reset: GruReset<'_>,
    mask: Option<&Tensor>,
) -> Result<GruStates> {
    gru_forward_with(xp, rk, reset, mask, RecurrentKernel::Auto)
}

/// [`gru_forward`] with an explicit GPU kernel choice.
///
/// # Errors
/// As [`gru_forward`]; on a GPU also [`Error::Config`](crate::Error::Config) for
/// [`RecurrentKernel::Persistent`] with more than
/// [`PERSISTENT_MAX_UNITS`](crate::ops::recurrent::PERSISTENT_MAX_UNITS) units.
pub fn gru_forward_with(
    xp: &Tensor,
    rk: &Tensor,
    reset: GruReset<'_>,
    mask: Option<&Tensor>,
    kernel: RecurrentKernel,
) -> Result<GruStates> {
    gru_forward_from(xp, rk, reset, RecurrentInputs::new().mask(mask), kernel)
}

/// [`gru_forward_with`] with all of its optional inputs (see [`RecurrentInputs`]): the mask,
/// the initial state `h0: [B, U]` (Keras's `initial_state`; `None`: zeros) and the recurrent
/// dropout masks rdrop `[3, B, U]` (gates z, r, h; `z ⊙ h_prev` reads the undropped h_prev).
/// A masked first step carries h0; [`gru_backward_to_state`](super::gru_backward_to_state)
/// gives h0's gradient.
///
/// # Errors
/// As [`gru_forward_with`], and [`Error::Shape`](crate::Error::Shape) when h0 is not `[B, U]`
/// or rdrop not `[3, B, U]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::gru_cell::{GruReset, gru_forward, gru_forward_from};
/// use wgfit::ops::recurrent::{RecurrentInputs, RecurrentKernel};
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 2, 6], (0..12).map(|i| i as f32 / 12.0).collect())?;
/// let rk = Tensor::from_vec(&device, [2, 6], vec![0.1; 12])?;
/// let rb = Tensor::zeros(&device, [6])?;
/// let zero = Tensor::zeros(&device, [1, 2])?;
/// let plain = gru_forward(&xp, &rk, GruReset::After(&rb), None)?.hseq.to_vec_blocking()?;
/// let k = RecurrentKernel::Auto;
/// let from_zero = RecurrentInputs::new().init(Some(&zero));
/// let from_zero = gru_forward_from(&xp, &rk, GruReset::After(&rb), from_zero, k)?;
/// assert_eq!(from_zero.hseq.to_vec_blocking()?, plain);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn gru_forward_from(
    xp: &Tensor,
    rk: &Tensor,
    reset: GruReset<'_>,
    inputs: RecurrentInputs<'_>,
    kernel: RecurrentKernel,
) -> Result<GruStates> {
    let RecurrentInputs {
        mask,
        init: h0,
        rdrop,
    } = inputs;
    let rb = match reset {
        GruReset::After(rb) => Some(rb),
        GruReset::Before => None,
    };
    let (device, (b, t, u)) = forward_inputs(("gru_cell", 3), xp, rk, rb, mask)?;
    if let Some(rb) = rb
        && rb.dims() != [3 * u]
    {
        return Err(shape_error(
            "gru_cell",
            &[Some(3 * u)],
            rb.dims(),
            "the recurrent bias must be [3U]",
        ));
    }
    let states: &[_] = match h0 {
        Some(h0) => &[("h0", h0)],
        None => &[],
    };
    check_forward("gru_cell", &device, (3, b, u), states, rdrop)?;
    let seq = Shape(vec![b, t, u]);
    let gate_shape = Shape(vec![b, t, 3 * u]);
    let reset_after = rb.is_some();
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let (xp, rk, rb) = (host(xp), host(rk), rb.map(host));
            let cell = GruCell {
                rk: rk.f32(),
                rb: rb.as_ref().map(|rb| rb.f32()),
            };
            let h0 = h0.map(host);
            let init = cpu::Init {
                h: h0.as_ref().map(|h| h.f32()),
                aux: None,
            };
            let r = rdrop.map(host);
            let start = (m.as_deref(), init, r.as_ref().map(|r| r.f32()));
            let s = cpu::forward(&cell, xp.f32(), cell.rk, start, (b, t, u));
            Ok(GruStates {
                hseq: Tensor::from_vec(&device, seq.clone(), s.0)?,
                hn: Tensor::from_vec(&device, seq.clone(), s.1)?,
                gates: Tensor::from_vec(&device, gate_shape, s.2)?,
                hprev: Tensor::from_vec(&device, seq, s.3)?,
                reset_after,
                rdrop: rdrop.cloned(),
            })
        }
        Device::Gpu(ctx) => {
            let (hseq, hn) = (gpu_output(ctx, &seq)?, gpu_output(ctx, &seq)?);
            let gates = gpu_output(ctx, &gate_shape)?;
            // From an initial state, step 0 reads h0 from hprev.
            let hprev = match h0 {
                Some(h0) => at_step0(h0, t)?,
                None => gpu_tensor(&device, seq.clone(), gpu_output(ctx, &seq)?),
            };
            // Bindings a variant does not read hold xp (read-only, so it may appear twice).
            let rb_buf = rb.map_or(buf(xp), buf);
            // the sequence mask, and the recurrent dropout masks after it
            let with_rdrop = mask_binding(mask, rdrop, (b, t))?;
            let mask_buf = match &with_rdrop {
                Some(m) => buf(m),
                None => mask.map_or(buf(xp), buf),
            };
            let all = [
                buf(xp),
                buf(rk),
                rb_buf,
                mask_buf,
                &hseq,
                &gates,
                buf(&hprev),
                &hn,
            ];
            let entries: &[_] = if reset_after {
                &[("gru_step", &all[..])]
            } else {
                // the candidate needs every unit's r ⊙ h_prev: a second dispatch
                &[
                    ("gru_step_reset", &all[..]),
                    ("gru_step_candidate", &all[..]),
                ]
            };
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_rdrop(rdrop.is_some())
                    .with_init(h0.is_some())
            };
            if use_persistent(ctx, kernel, u)? {
                let blocked = forward_kernel(reset_after);
                dispatch_blocked(ctx, blocked, &all, params, (b, t, u))?;
            } else {
                let steps = 0..t as u32;
                dispatch_steps(ctx, &FORWARD, entries, steps, |s| params(s, s + 1), (b, u))?;
            }
            Ok(GruStates {
                hseq: gpu_tensor(&device, seq.clone(), hseq),
                hn: gpu_tensor(&device, seq, hn),
                gates: gpu_tensor(&device, gate_shape, gates),
                hprev,
                reset_after,
                rdrop: rdrop.cloned(),
            })
        }
    }
}
