//! Which GPU kernel runs an LSTM's forward pass: per-step dispatches or the persistent
//! kernel, by the caller's choice or by shape and adapter.

/// How the GPU runs the forward pass over T steps. The CPU reference ignores it: every
/// choice gives the same states there.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::lstm_cell::{LstmKernel, lstm_forward_with};
/// let device = Device::cpu();
/// let xp = Tensor::from_vec(&device, [2, 3, 8], (0..48).map(|i| i as f32 / 48.0).collect())?;
/// let rk = Tensor::from_vec(&device, [2, 8], vec![0.1; 16])?;
/// let a = lstm_forward_with(&xp, &rk, None, LstmKernel::PerStep)?;
/// let b = lstm_forward_with(&xp, &rk, None, LstmKernel::Persistent)?;
/// assert_eq!(a.hseq.to_vec_blocking()?, b.hseq.to_vec_blocking()?);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LstmKernel {
    /// Chosen by shape and adapter: [`Persistent`](LstmKernel::Persistent) when the units fit
    /// it and the adapter is a hardware GPU, [`PerStep`](LstmKernel::PerStep) otherwise (see
    /// BENCHMARKS.md for what was measured where).
    Auto,
    /// One dispatch per step, one invocation per (b, u).
    PerStep,
    /// One dispatch for the whole sequence, a workgroup per batch row (units <= 64 only); on a
    /// software adapter, whose loop budget it would outrun, one per 64 511 / (U + 2) steps.
    Persistent,
}

/// The largest `units` the persistent kernel handles (its workgroup has 4 x 64 invocations);
/// [`LstmKernel::Persistent`] with more units is an [`Error::Config`](crate::Error::Config)
/// on a GPU.
pub const PERSISTENT_MAX_UNITS: usize = 64;

/// The persistent kernel for `u` units on this adapter? Measured (BENCHMARKS.md): on lavapipe
/// per-step dispatches win at every shape tried, by 3x at B=64, T=100, U=32 and 64, because a
/// software adapter spreads workgroups (one per batch row here) rather than invocations over
/// its cores. A hardware GPU runs all of a sequence's workgroups at once and pays a few
/// microseconds per dispatch and barrier, which the persistent kernel saves T - 1 times:
/// predicted to win there for every shape it takes (units <= 64), not yet measured on one.
pub(super) fn auto_persistent(ctx: &crate::device::GpuContext, u: usize) -> bool {
    let software =
        matches!(ctx.info(), crate::DeviceInfo::Gpu { device_type, .. } if device_type == "Cpu");
    u <= PERSISTENT_MAX_UNITS && !software
}
