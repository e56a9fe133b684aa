//! The forward pass over a sequence on each device: the CPU twin, per-step dispatches or the
//! persistent (row-blocked) kernel.

use super::blocked::{self, Plan, ROWS};
use super::choice::{PERSISTENT_MAX_STEPS, capped, use_persistent};
use super::cpu::LstmCell;
use super::{FORWARD, LstmKernel, LstmStates};
use crate::device::{Device, GpuBuffer};
use crate::error::Result;
use crate::ops::recurrent::{Params, cpu, dispatch_steps, forward_inputs};
use crate::ops::{buf, gpu_output, gpu_tensor, host, loop_ranges};
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
    let (device, (b, t, u)) = forward_inputs(("lstm_cell", 4), xp, rk, None, mask)?;
    let seq = Shape(vec![b, t, u]);
    let gate_shape = Shape(vec![b, t, 4 * u]);
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let (xp, rk) = (host(xp), host(rk));
            let s = cpu::forward(&LstmCell, xp.f32(), rk.f32(), m.as_deref(), (b, t, u));
            Ok(LstmStates {
                hseq: Tensor::from_vec(&device, seq.clone(), s.0)?,
                cseq: Tensor::from_vec(&device, seq.clone(), s.1)?,
                gates: Tensor::from_vec(&device, gate_shape, s.2)?,
                hprev: Tensor::from_vec(&device, seq, s.3)?,
            })
        }
        Device::Gpu(ctx) => {
            let (hseq, cseq) = (gpu_output(ctx, &seq)?, gpu_output(ctx, &seq)?);
            let (gates, hprev) = (gpu_output(ctx, &gate_shape)?, gpu_output(ctx, &seq)?);
            let mask_buf: &GpuBuffer = mask.map_or(buf(xp), buf);
            let persistent = use_persistent(ctx, kernel, u)?;
            let all = [buf(xp), buf(rk), mask_buf, &hseq, &cseq, &gates, &hprev];
            // The loop trips each step takes bound the steps of one dispatch on a software
            // adapter, and no dispatch runs more than PERSISTENT_MAX_STEPS on any.
            let dispatches = if persistent {
                let per_step = Plan::forward(u, 4).forward_trips_per_step();
                let budget = loop_ranges(ctx, t, |trips| trips / per_step);
                capped(budget, PERSISTENT_MAX_STEPS)
            } else {
                Vec::new()
            };
            let params = |t0: u32, t1: u32| Params::new((b, t, u), (t0, t1)).masked(mask.is_some());
            for (t0, t1) in dispatches {
                ctx.dispatch(
                    blocked::forward_kernel(u),
                    "lstm_forward_blocked",
                    &all,
                    bytemuck::bytes_of(&params(t0, t1)),
                    b.div_ceil(ROWS) as u64,
                )?;
            }
            let steps = (0..t as u32).filter(|_| !persistent);
            let entries = [("lstm_step", &all[..])];
            dispatch_steps(ctx, &FORWARD, &entries, steps, |s| params(s, s + 1), (b, u))?;
            Ok(LstmStates {
                hseq: gpu_tensor(&device, seq.clone(), hseq),
                cseq: gpu_tensor(&device, seq.clone(), cseq),
                gates: gpu_tensor(&device, gate_shape, gates),
                hprev: gpu_tensor(&device, seq, hprev),
            })
        }
    }
}
