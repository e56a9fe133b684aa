//! Backpropagation through time on each device: the CPU twin, two dispatches per step or the
//! persistent (row-blocked) kernel.

use super::blocked::{self, Plan, ROWS};
use super::choice::{PERSISTENT_MAX_STEPS, capped, use_persistent};
use super::cpu::LstmCell;
use super::{BACKWARD, LstmKernel, LstmStates};
use crate::device::Device;
use crate::error::Result;
use crate::ops::recurrent::{Params, backward_inputs, cpu, dispatch_steps};
use crate::ops::transpose::transpose;
use crate::ops::{buf, gpu_output, gpu_tensor, host, loop_ranges};
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Backpropagates through all T steps from the gradient of the last h (`dh_last`) and/or of
/// every step's h (`dy_seq`); returns dz: `[B, T, 4U]`.
///
/// `states`, rk and mask are the forward pass's; dh_last: `[B, U]` (an `LSTM` that returns
/// its last state), dy_seq: `[B, T, U]` (`return_sequences=True`); `None` for both gives a
/// zero dz. dz is the gradient w.r.t. the gates' pre-activations (xp), from which
/// `dkernel = xᵀ dz`, `drecurrent = hprevᵀ dz`, `dbias = Σ dz` and `dx = dz kernelᵀ`.
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
    let grads = (dh_last, dy_seq);
    let (device, (b, t, u), dh) =
        backward_inputs(("lstm_cell_backward", 4), &states.gates, rk, mask, grads)?;
    let dz_shape = Shape(vec![b, t, 4 * u]);
    let dc = Tensor::zeros(&device, [b, u])?;
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let dy = dy_seq.map(|d| host(d).f32().to_vec());
            let (gates, cseq, hprev) =
                (host(&states.gates), host(&states.cseq), host(&states.hprev));
            let saved = cpu::Saved {
                gates: gates.f32(),
                aux: cseq.f32(),
                hprev: hprev.f32(),
            };
            let (dh, rk) = (host(&dh).f32().to_vec(), host(rk));
            let dz = cpu::backward(
                &LstmCell,
                saved,
                rk.f32(),
                m.as_deref(),
                dh,
                dy.as_deref(),
                (b, t, u),
            );
            Tensor::from_vec(&device, dz_shape, dz)
        }
        Device::Gpu(ctx) => {
            let dz = gpu_output(ctx, &dz_shape)?;
            // The kernels read rk transposed: neighbouring units, neighbouring addresses.
            let rk_t = transpose(rk)?;
            let mask_buf = mask.map_or(buf(rk), buf);
            let dy_buf = dy_seq.map_or(buf(&states.cseq), buf);
            let params = |t0: u32, t1: u32| {
                Params::new((b, t, u), (t0, t1))
                    .masked(mask.is_some())
                    .with_dy_seq(dy_seq.is_some())
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
            if use_persistent(ctx, kernel, u)? {
                // Ranges of steps, the last first, each carrying on from the dh and dc the one
                // before left (one range on a hardware GPU).
                let per_step = Plan::backward(u, 4).backward_trips_per_step();
                let budget = loop_ranges(ctx, t, |trips| trips / per_step);
                let ranges = capped(budget, PERSISTENT_MAX_STEPS);
                let kernel = blocked::backward_kernel(u);
                let blocks = b.div_ceil(ROWS) as u64;
                for &(t0, t1) in ranges.iter().rev() {
                    let p = params(t0, t1);
                    let bytes = bytemuck::bytes_of(&p);
                    ctx.dispatch(kernel, "lstm_backward_blocked", &all, bytes, blocks)?;
                }
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
            Ok(gpu_tensor(&device, dz_shape, dz))
        }
    }
}
