//! The LSTM cell over a whole sequence, forward and backward through time
//! (`shaders/lstm_cell.wgsl`, `shaders/lstm_cell_backward.wgsl`), with CPU twins.
//!
//! forward:  xp: `[B, T, 4U]` (x · kernel + bias), rk: `[U, 4U]`, mask: `[B, T]` or none
//!           -> hseq, cseq: `[B, T, U]`, gates: `[B, T, 4U]`, hprev: `[B, T, U]`
//! backward: the forward's states, dh_last: `[B, U]` and/or dy_seq: `[B, T, U]`
//!           -> dz: `[B, T, 4U]`, the gradient w.r.t. the gates' pre-activations; from it the
//!           layer gets dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz, dx = dz kernelᵀ.
//! Gate order i, f, g (Keras's "c"), o. A masked step keeps h and c, so the final state is the
//! state at the last unmasked step, whatever side the padding is on.

mod choice;
mod cpu;
mod gemm;

pub use choice::{LstmKernel, PERSISTENT_MAX_UNITS};
use choice::{
    PERSISTENT_MAX_STEPS, backward_trips_per_step, capped, forward_trips_per_step, use_persistent,
};
use cpu::{lstm_backward_cpu, lstm_forward_cpu};

use super::{buf, common_device, gpu_output, gpu_tensor, groups, host, loop_ranges, shape_error};
use crate::device::{Device, GpuBuffer, Kernel};
use crate::error::Result;
use crate::ops::elementwise::affine;
use crate::ops::transpose::transpose;
use crate::shape::Shape;
use crate::tensor::{DType, Tensor};

const FORWARD: Kernel = Kernel {
    name: "lstm_cell",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/lstm_cell.wgsl")
    ),
};

const BACKWARD: Kernel = Kernel {
    name: "lstm_cell_backward",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/lstm_cell_backward.wgsl")
    ),
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    steps: u32,
    units: u32,
    t: u32,
    // The persistent kernel runs the steps t..t_end.
    t_end: u32,
    has_mask: u32,
    has_dy_seq: u32,
}

/// What the forward pass keeps for the backward pass (and the outputs).
///
/// `hseq` is Keras's `LSTM(return_sequences=True)` output; its last step (the state at the
/// last unmasked step) is `LSTM`'s default output.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::lstm_forward;
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [1, 2, 4], vec![0.5; 8])?; // B = 1, T = 2, U = 1
/// let rk = Tensor::from_vec(&device, [1, 4], vec![0.1; 4])?;
/// let s = lstm_forward(&xp, &rk, None)?;
/// assert_eq!((s.hseq.dims(), s.gates.dims()), (&[1, 2, 1][..], &[1, 2, 4][..]));
/// let (h, hprev) = (s.hseq.to_vec_blocking()?, s.hprev.to_vec_blocking()?);
/// assert_eq!(hprev, vec![0.0, h[0]]); // h before step 1 is h after step 0
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LstmStates {
    /// h after each step: `[B, T, U]` (the output sequence).
    pub hseq: Tensor,
    /// c after each step: `[B, T, U]`.
    pub cseq: Tensor,
    /// i, f, g, o after their activations: `[B, T, 4U]`.
    pub gates: Tensor,
    /// h before each step: `[B, T, U]`.
    pub hprev: Tensor,
}

fn dims(xp: &Tensor, rk: &Tensor, mask: Option<&Tensor>) -> Result<(usize, usize, usize)> {
    let &[u, u4] = rk.dims() else {
        return Err(shape_error(
            "lstm_cell",
            &[None, None],
            rk.dims(),
            "the recurrent kernel must be [U, 4U]",
        ));
    };
    if u4 != 4 * u {
        return Err(shape_error(
            "lstm_cell",
            &[Some(u), Some(4 * u)],
            rk.dims(),
            "the recurrent kernel must be [U, 4U]",
        ));
    }
    let &[b, t, g] = xp.dims() else {
        return Err(shape_error(
            "lstm_cell",
            &[None, None, Some(4 * u)],
            xp.dims(),
            "the input projection must be [B, T, 4U]",
        ));
    };
    if g != 4 * u {
        return Err(shape_error(
            "lstm_cell",
            &[Some(b), Some(t), Some(4 * u)],
            xp.dims(),
            "the input projection must be [B, T, 4U]",
        ));
    }
    if let Some(m) = mask
        && m.dims() != [b, t]
    {
        return Err(shape_error(
            "lstm_cell",
            &[Some(b), Some(t)],
            m.dims(),
            "the mask must be [B, T]",
        ));
    }
    Ok((b, t, u))
}

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
/// [`LstmKernel::Persistent`] with more than [`PERSISTENT_MAX_UNITS`] units.
pub fn lstm_forward_with(
    xp: &Tensor,
    rk: &Tensor,
    mask: Option<&Tensor>,
    kernel: LstmKernel,
) -> Result<LstmStates> {
    let inputs: Vec<(&Tensor, DType)> = [xp, rk]
        .into_iter()
        .chain(mask)
        .map(|t| (t, DType::F32))
        .collect();
    let device = common_device("lstm_cell", &inputs)?;
    let (b, t, u) = dims(xp, rk, mask)?;
    let seq = Shape(vec![b, t, u]);
    let gate_shape = Shape(vec![b, t, 4 * u]);
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let s = lstm_forward_cpu(host(xp).f32(), host(rk).f32(), m.as_deref(), b, t, u);
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
                let budget = loop_ranges(ctx, t, |trips| trips / forward_trips_per_step(u));
                capped(budget, PERSISTENT_MAX_STEPS)
            } else {
                Vec::new()
            };
            for (t0, t1) in dispatches {
                let params = Params {
                    batch: b as u32,
                    steps: t as u32,
                    units: u as u32,
                    t: t0,
                    t_end: t1,
                    has_mask: mask.is_some() as u32,
                    has_dy_seq: 0,
                };
                ctx.dispatch(
                    &FORWARD,
                    "lstm_sequence_persistent",
                    &all,
                    bytemuck::bytes_of(&params),
                    b as u64,
                )?;
            }
            for step in (0..t).filter(|_| !persistent) {
                let params = Params {
                    batch: b as u32,
                    steps: t as u32,
                    units: u as u32,
                    t: step as u32,
                    t_end: step as u32 + 1,
                    has_mask: mask.is_some() as u32,
                    has_dy_seq: 0,
                };
                ctx.dispatch(
                    &FORWARD,
                    "lstm_step",
                    &all,
                    bytemuck::bytes_of(&params),
                    groups(b * u),
                )?;
            }
            Ok(LstmStates {
                hseq: gpu_tensor(&device, seq.clone(), hseq),
                cseq: gpu_tensor(&device, seq.clone(), cseq),
                gates: gpu_tensor(&device, gate_shape, gates),
                hprev: gpu_tensor(&device, seq, hprev),
            })
        }
    }
}

/// Backpropagates through all T steps from the gradient of the last h (`dh_last`) and/or of
/// every step's h (`dy_seq`); returns dz: `[B, T, 4U]`.
///
/// `states`, rk and mask are the forward pass's; dh_last: `[B, U]` (an `LSTM` that returns
/// its last state), dy_seq: `[B, T, U]` (`return_sequences=True`); `None` for both gives a
/// zero dz. dz is the gradient w.r.t. the gates' pre-activations (xp), from which
/// `dkernel = xᵀ dz`, `drecurrent = hprevᵀ dz`, `dbias = Σ dz` and `dx = dz kernelᵀ`.
///
/// # Errors
/// As [`lstm_forward`], and [`Error::Shape`](crate::Error::Shape) when dh_last is not
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
/// [`LstmKernel::Persistent`] with more than [`PERSISTENT_MAX_UNITS`] units.
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
    let inputs: Vec<(&Tensor, DType)> = [&states.gates, rk]
        .into_iter()
        .chain(mask)
        .chain(dh_last)
        .chain(dy_seq)
        .map(|t| (t, DType::F32))
        .collect();
    let device = common_device("lstm_cell_backward", &inputs)?;
    let (b, t, u) = dims(&states.gates, rk, mask)?;
    if let Some(d) = dh_last
        && d.dims() != [b, u]
    {
        return Err(shape_error(
            "lstm_cell_backward",
            &[Some(b), Some(u)],
            d.dims(),
            "dh_last must be [B, U]",
        ));
    }
    if let Some(d) = dy_seq
        && d.dims() != [b, t, u]
    {
        return Err(shape_error(
            "lstm_cell_backward",
            &[Some(b), Some(t), Some(u)],
            d.dims(),
            "dy_seq must be [B, T, U]",
        ));
    }
    let dz_shape = Shape(vec![b, t, 4 * u]);
    // The running gradients start from dh_last (copied: the kernels update them in place).
    let dh = match dh_last {
        Some(d) => affine(d, 1.0, 0.0)?,
        None => Tensor::zeros(&device, [b, u])?,
    };
    let dc = Tensor::zeros(&device, [b, u])?;
    match &device {
        Device::Cpu => {
            let m = mask.map(|m| host(m).f32().to_vec());
            let dy = dy_seq.map(|d| host(d).f32().to_vec());
            let dz = lstm_backward_cpu(
                host(&states.gates).f32(),
                host(&states.cseq).f32(),
                host(rk).f32(),
                m.as_deref(),
                host(&dh).f32().to_vec(),
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
            let params = |t0: u32, t1: u32| Params {
                batch: b as u32,
                steps: t as u32,
                units: u as u32,
                t: t0,
                t_end: t1,
                has_mask: mask.is_some() as u32,
                has_dy_seq: dy_seq.is_some() as u32,
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
                let budget = loop_ranges(ctx, t, |trips| trips / backward_trips_per_step(u));
                let ranges = capped(budget, PERSISTENT_MAX_STEPS);
                for &(t0, t1) in ranges.iter().rev() {
                    let p = params(t0, t1);
                    let bytes = bytemuck::bytes_of(&p);
                    ctx.dispatch(&BACKWARD, "lstm_backward_persistent", &all, bytes, b as u64)?;
                }
            } else {
                for step in (0..t as u32).rev() {
                    let p = params(step, step + 1);
                    let bytes = bytemuck::bytes_of(&p);
                    ctx.dispatch(&BACKWARD, "lstm_backward_gates", &all, bytes, groups(b * u))?;
                    ctx.dispatch(
                        &BACKWARD,
                        "lstm_backward_h",
                        &all[..4],
                        bytes,
                        groups(b * u),
                    )?;
                }
            }
            Ok(gpu_tensor(&device, dz_shape, dz))
        }
    }
}
