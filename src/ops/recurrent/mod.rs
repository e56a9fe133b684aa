//! The recurrent driver every cell shares (as Keras's `rnn.py` is for its cells): the checks
//! of a sequence's tensors, the kernel choice, the uniform every recurrent kernel reads, the
//! per-step dispatch loop on a GPU, and on the CPU the time loop, masks, threads and each
//! step's recurrent GEMM (`cpu.rs`). A cell ([`lstm_cell`](super::lstm_cell),
//! [`gru_cell`](super::gru_cell), [`simple_rnn_cell`](super::simple_rnn_cell)) brings its
//! gate math, on the CPU and in WGSL.
//!
//! Shapes, for a cell of G gates: xp `[B, T, G·U]` (the input projection with its bias),
//! rk `[U, G·U]`, mask `[B, T]` (1.0 kept, 0.0 masked: a masked step carries the state),
//! rdrop `[G, B, U]` (recurrent dropout masks, one per gate: [`RecurrentInputs`]),
//! dh_last `[B, U]`, dy_seq `[B, T, U]`.

pub(crate) mod blocked;
mod choice;
pub(crate) mod cpu;
mod cpu_backward;
mod dropped;
pub(crate) mod gemm;
mod inputs;
mod per_gate;
#[cfg(test)]
mod per_gate_tests;

pub use inputs::RecurrentInputs;
pub(crate) use inputs::{check_forward, check_rdrop, mask_binding};
pub(crate) use per_gate::{dropped_weight_grad, gate_input_grad, gate_projection};

pub(crate) use blocked::{Blocked, checked, dispatch as dispatch_blocked};
pub use choice::PERSISTENT_MAX_UNITS;
pub(crate) use choice::{PERSISTENT_MAX_STEPS, Rule, capped, use_persistent};

use super::elementwise::affine;
use super::{common_device, shape_error};
use crate::device::{Device, GpuBuffer, GpuContext, Kernel};
use crate::error::Result;
use crate::tensor::{DType, Tensor};

/// How the GPU runs a recurrent layer's forward and backward passes over T steps. The CPU
/// reference ignores it: every choice gives the same states there.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::recurrent::RecurrentKernel;
/// use wgfit::ops::lstm_cell::lstm_forward_with;
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [2, 3, 8], (0..48).map(|i| i as f32 / 48.0).collect())?;
/// let rk = Tensor::from_vec(&device, [2, 8], vec![0.1; 16])?;
/// let a = lstm_forward_with(&xp, &rk, None, RecurrentKernel::PerStep)?;
/// let b = lstm_forward_with(&xp, &rk, None, RecurrentKernel::Persistent)?;
/// assert_eq!(a.hseq.to_vec_blocking()?, b.hseq.to_vec_blocking()?);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecurrentKernel {
    /// Chosen by the cell, the shape and the adapter: the persistent kernels on a hardware
    /// GPU up to a cell's reasoned limit, on a software adapter from the units where they
    /// measured faster (`AUTO_PERSISTENT_MAX_UNITS` and `SOFTWARE_PERSISTENT_MIN_UNITS` in
    /// [`lstm_cell`](super::lstm_cell), [`gru_cell`](super::gru_cell) and
    /// [`simple_rnn_cell`](super::simple_rnn_cell)),
    /// per-step dispatches otherwise. The default.
    #[default]
    Auto,
    /// One dispatch per step forward (one invocation per (b, u)), two or three per step
    /// backward.
    PerStep,
    /// One dispatch for the whole sequence forward and one backward, a workgroup per block of
    /// four batch rows, for any cell of units <= [`PERSISTENT_MAX_UNITS`] (more is an
    /// [`Error::Config`](crate::Error::Config) on a GPU); on a software adapter, whose loop
    /// budget it would outrun, one per range of steps that fits the budget.
    Persistent,
}

params! {
    /// The uniform of every recurrent kernel (each WGSL file declares the same struct).
    pub(crate) struct Params {
        batch: u32,
        steps: u32,
        units: u32,
        t: u32,
        // The persistent kernels run the steps t..t_end.
        t_end: u32,
        has_mask: u32,
        has_dy_seq: u32,
        // The state starts at a given initial state (see `InitialState`).
        has_init: u32,
        // The recurrent dropout masks follow the sequence mask in the mask binding.
        has_rdrop: u32,
    }
}

impl Params {
    /// The uniform for steps `t0..t1` of a `[B, T, U]` sequence.
    pub(crate) fn new((b, t, u): (usize, usize, usize), (t0, t1): (u32, u32)) -> Params {
        Params {
            batch: b as u32,
            steps: t as u32,
            units: u as u32,
            t: t0,
            t_end: t1,
            has_mask: 0,
            has_dy_seq: 0,
            has_init: 0,
            has_rdrop: 0,
        }
    }

    pub(crate) fn masked(mut self, on: bool) -> Params {
        self.has_mask = on as u32;
        self
    }

    pub(crate) fn with_dy_seq(mut self, on: bool) -> Params {
        self.has_dy_seq = on as u32;
        self
    }

    pub(crate) fn with_init(mut self, on: bool) -> Params {
        self.has_init = on as u32;
        self
    }

    pub(crate) fn with_rdrop(mut self, on: bool) -> Params {
        self.has_rdrop = on as u32;
        self
    }
}

/// The device and `(B, T, U)` of a forward pass of cell `op` (of `gates` gates): every input
/// f32 on one device (`extra`: a cell's own, checked by the cell), xp `[B, T, G·U]`,
/// rk `[U, G·U]`, the mask `[B, T]`.
pub(crate) fn forward_inputs(
    (op, gates): (&str, usize),
    xp: &Tensor,
    rk: &Tensor,
    extra: Option<&Tensor>,
    mask: Option<&Tensor>,
) -> Result<(Device, (usize, usize, usize))> {
    let inputs: Vec<(&Tensor, DType)> = [xp, rk]
        .into_iter()
        .chain(extra)
        .chain(mask)
        .map(|t| (t, DType::F32))
        .collect();
    let device = common_device(op, &inputs)?;
    Ok((device, dims(op, gates, xp, rk, mask)?))
}

/// The device, `(B, T, U)` and the running gradient dh `[B, U]` (a copy of dh_last, which the
/// kernels update in place, or zeros) of a backward pass of cell `op`, from the forward's
/// gates `[B, T, G·U]`, rk, the mask and the output gradients: dh_last `[B, U]`, dy_seq
/// `[B, T, U]`.
pub(crate) fn backward_inputs(
    (op, gates): (&str, usize),
    saved_gates: &Tensor,
    rk: &Tensor,
    mask: Option<&Tensor>,
    (dh_last, dy_seq): (Option<&Tensor>, Option<&Tensor>),
) -> Result<(Device, (usize, usize, usize), Tensor)> {
    let inputs: Vec<(&Tensor, DType)> = [saved_gates, rk]
        .into_iter()
        .chain(mask)
        .chain(dh_last)
        .chain(dy_seq)
        .map(|t| (t, DType::F32))
        .collect();
    let device = common_device(op, &inputs)?;
    let (b, t, u) = dims(op, gates, saved_gates, rk, mask)?;
    check_output_grads(op, (b, t, u), dh_last, dy_seq)?;
    let dh = match dh_last {
        Some(d) => affine(d, 1.0, 0.0)?,
        None => Tensor::zeros(&device, [b, u])?,
    };
    Ok((device, (b, t, u), dh))
}

/// `(B, T, U)` of a cell `op` of `gates` gates, from xp `[B, T, G·U]`, rk `[U, G·U]` and the
/// mask `[B, T]`.
fn dims(
    op: &str,
    gates: usize,
    xp: &Tensor,
    rk: &Tensor,
    mask: Option<&Tensor>,
) -> Result<(usize, usize, usize)> {
    let g = gates;
    let rk_reason = format!("the recurrent kernel must be [U, {g}U]");
    let xp_reason = format!("the input projection must be [B, T, {g}U]");
    let &[u, ug] = rk.dims() else {
        return Err(shape_error(op, &[None, None], rk.dims(), &rk_reason));
    };
    if ug != g * u {
        return Err(shape_error(
            op,
            &[Some(u), Some(g * u)],
            rk.dims(),
            &rk_reason,
        ));
    }
    let &[b, t, xg] = xp.dims() else {
        return Err(shape_error(
            op,
            &[None, None, Some(g * u)],
            xp.dims(),
            &xp_reason,
        ));
    };
    if xg != g * u {
        return Err(shape_error(
            op,
            &[Some(b), Some(t), Some(g * u)],
            xp.dims(),
            &xp_reason,
        ));
    }
    if let Some(m) = mask
        && m.dims() != [b, t]
    {
        return Err(shape_error(
            op,
            &[Some(b), Some(t)],
            m.dims(),
            "the mask must be [B, T]",
        ));
    }
    Ok((b, t, u))
}

/// Checks the output gradients a backward pass starts from: dh_last `[B, U]`, dy_seq
/// `[B, T, U]`.
fn check_output_grads(
    op: &str,
    (b, t, u): (usize, usize, usize),
    dh_last: Option<&Tensor>,
    dy_seq: Option<&Tensor>,
) -> Result<()> {
    if let Some(d) = dh_last
        && d.dims() != [b, u]
    {
        return Err(shape_error(
            op,
            &[Some(b), Some(u)],
            d.dims(),
            "dh_last must be [B, U]",
        ));
    }
    if let Some(d) = dy_seq
        && d.dims() != [b, t, u]
    {
        return Err(shape_error(
            op,
            &[Some(b), Some(t), Some(u)],
            d.dims(),
            "dy_seq must be [B, T, U]",
        ));
    }
    Ok(())
}

/// One dispatch of a step: the entry point and the buffers it binds (after the uniform).
pub(crate) type StepEntry<'a> = (&'static str, &'a [&'a GpuBuffer]);

/// Records a per-step pass: for each step of `steps` in the order given (ascending forward,
/// descending backward), each of `entries` of `kernel` in turn, one invocation per (b, u).
pub(crate) fn dispatch_steps(
    ctx: &GpuContext,
    kernel: &Kernel,
    entries: &[StepEntry<'_>],
    steps: impl Iterator<Item = u32>,
    params: impl Fn(u32) -> Params,
    (b, u): (usize, usize),
) -> Result<()> {
    for step in steps {
        let p = params(step);
        for &(entry, buffers) in entries {
            let groups = super::groups(b * u);
            ctx.dispatch(kernel, entry, buffers, bytemuck::bytes_of(&p), groups)?;
        }
    }
    Ok(())
}

/// Checks an initial state (Keras's `initial_state`) of cell `op` of `(B, U)`: each of
/// `states` (named, "h0", "c0") f32 `[B, U]` on `device`.
pub(crate) fn check_init(
    op: &str,
    device: &Device,
    (b, u): (usize, usize),
    states: &[(&str, &Tensor)],
) -> Result<()> {
    for &(name, s) in states {
        if !s.device().same_as(device) {
            return Err(crate::Error::Data(format!(
                "{op}: the initial state {name} is on {} but the sequence is on {}; move \
                 tensors to one device",
                s.device().info(),
                device.info()
            )));
        }
        s.expect_dtype(DType::F32, op)?;
        if s.dims() != [b, u] {
            return Err(shape_error(
                op,
                &[Some(b), Some(u)],
                s.dims(),
                &format!(
                    "the initial state {name} must be [B, U], as the sequence's batch and units"
                ),
            ));
        }
    }
    Ok(())
}

/// `[B, T, U]` holding `s0: [B, U]` at step 0 and zeros after: the buffer a GPU forward
/// kernel's hprev (or an LSTM's cseq) starts as, where step 0 reads the initial state; never
/// s0's own storage.
pub(crate) fn at_step0(s0: &Tensor, t: usize) -> Result<Tensor> {
    let (b, u) = (s0.dims()[0], s0.dims()[1]);
    let first = s0.reshape([b, 1, u])?;
    if t <= 1 {
        // A copy: the kernels write this buffer, and a reshape would share s0's. T = 0 keeps
        // no step: an empty tensor of the sequence's shape.
        return if t == 1 {
            affine(&first, 1.0, 0.0)
        } else {
            Tensor::zeros(s0.device(), [b, 0, u])
        };
    }
    let rest = Tensor::zeros(s0.device(), [b, t - 1, u])?;
    super::merge::concat(&[&first, &rest], 1)
}

/// What a backward pass through time gives when the gradients of the initial state are asked
/// for (`*_backward_to_state`): the gradient of the input projection, and those of the state
/// before step 0 (Keras's `initial_state`), through which an encoder feeding a decoder trains.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::recurrent::{RecurrentInputs, RecurrentKernel};
/// use wgfit::ops::simple_rnn_cell::{simple_rnn_backward_to_state, simple_rnn_forward_from};
/// let device = Device::cpu();
/// // B = T = U = 1: h = tanh(0 + h0 · 2) with h0 = 0, so dh0 = dh · (1 - h²) · 2 = 2.
/// let xp = Tensor::zeros(&device, [1, 1, 1])?;
/// let rk = Tensor::from_vec(&device, [1, 1], vec![2.0])?;
/// let h0 = Tensor::zeros(&device, [1, 1])?;
/// let k = RecurrentKernel::Auto;
/// let s = simple_rnn_forward_from(&xp, &rk, RecurrentInputs::new().init(Some(&h0)), k)?;
/// let dh = Tensor::from_vec(&device, [1, 1], vec![1.0])?;
/// let g = simple_rnn_backward_to_state(&s, &rk, None, (Some(&dh), None), k)?;
/// assert_eq!((g.dh0.to_vec_blocking()?, g.dc0.is_none()), (vec![2.0], true));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StateGrads {
    /// The gradient w.r.t. xp, the gates' pre-activations: `[B, T, G·U]`.
    pub dz: Tensor,
    /// The gradient w.r.t. h0: `[B, U]`.
    pub dh0: Tensor,
    /// The gradient w.r.t. c0 (an LSTM's; `None` for a GRU or SimpleRNN): `[B, U]`.
    pub dc0: Option<Tensor>,
}
