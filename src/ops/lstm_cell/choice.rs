//! Which GPU kernels run an LSTM's forward and backward passes: per-step dispatches or the
//! persistent kernels, by the caller's choice (the op's argument, [`Lstm::kernel`] for a
//! layer) or, under [`LstmKernel::Auto`], by the units and the adapter's type.
//!
//! [`Lstm::kernel`]: crate::layers::Lstm::kernel

/// How the GPU runs the forward and backward passes over T steps. The CPU reference ignores
/// it: every choice gives the same states there.
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LstmKernel {
    /// Chosen by shape and adapter: [`Persistent`](LstmKernel::Persistent) when the units fit
    /// it and the adapter is a hardware GPU, [`PerStep`](LstmKernel::PerStep) otherwise (see
    /// BENCHMARKS.md for what was measured where). The default, here and for
    /// [`Lstm::kernel`](crate::layers::Lstm::kernel).
    #[default]
    Auto,
    /// One dispatch per step forward (one invocation per (b, u)), two per step backward.
    PerStep,
    /// One dispatch for the whole sequence forward and one backward, a workgroup per batch
    /// row (units <= [`PERSISTENT_MAX_UNITS`]); on a software adapter, whose loop budget it
    /// would outrun, one per range of steps that fits the budget.
    Persistent,
}

/// The largest `units` the persistent kernels handle (a workgroup of 256 invocations, each
/// taking up to four of a row's 4U gates; 5 KiB of workgroup memory);
/// [`LstmKernel::Persistent`] with more units is an [`Error::Config`](crate::Error::Config)
/// on a GPU.
pub const PERSISTENT_MAX_UNITS: usize = 256;

/// Whether the persistent kernels run for `u` units on `ctx`, for the `asked` kernel.
///
/// Under [`LstmKernel::Auto`], from the adapter's type and `u`: measured
/// (BENCHMARKS.md), on lavapipe per-step dispatches win at every shape tried, by 1.8-3x at
/// B=64, T=100, U=32 to 128 and in a training step, because a software adapter spreads
/// workgroups (one per batch row here) rather than invocations over its cores. On a hardware
/// GPU the persistent kernels are chosen for every U they take, a prediction not yet measured
/// on one: they spread each row's work over at least as many invocations as the per-step
/// kernels (256 against U), so they are no less parallel, and they save T - 1 dispatches
/// forward and 2T - 1 backward, a few microseconds each. `benches/peers/gpu_compare.sh`
/// measures both on a real GPU.
pub(super) fn use_persistent(
    ctx: &crate::device::GpuContext,
    kernel: LstmKernel,
    u: usize,
) -> crate::Result<bool> {
    match kernel {
        LstmKernel::Auto => Ok(u <= PERSISTENT_MAX_UNITS && !software(ctx)),
        LstmKernel::PerStep => Ok(false),
        LstmKernel::Persistent if u <= PERSISTENT_MAX_UNITS => Ok(true),
        LstmKernel::Persistent => Err(crate::Error::Config(format!(
            "an LSTM of {u} units cannot run the persistent kernels, which take at most \
             {PERSISTENT_MAX_UNITS} units, and LstmKernel::Persistent was asked for (by \
             Lstm::kernel, or passed to lstm_forward_with / lstm_backward_with); use \
             LstmKernel::Auto or LstmKernel::PerStep there"
        ))),
    }
}

fn software(ctx: &crate::device::GpuContext) -> bool {
    ctx.device_type() == wgpu::DeviceType::Cpu
}

/// The most steps one persistent dispatch runs on any adapter. On a hardware GPU a whole
/// sequence would otherwise be one dispatch however long it is, and operating systems reset
/// a GPU whose single dispatch runs past a couple of seconds (Windows's TDR); 4 096 steps are
/// a few milliseconds, and the extra dispatch per 4 096 steps costs nothing worth measuring.
pub(super) const PERSISTENT_MAX_STEPS: u32 = 4096;

/// The step ranges the persistent kernels run, one dispatch each: the adapter's `ranges`
/// (from its loop budget), each cut into pieces of at most `max` steps.
pub(super) fn capped(ranges: Vec<(u32, u32)>, max: u32) -> Vec<(u32, u32)> {
    ranges
        .into_iter()
        .flat_map(|(lo, hi)| {
            let pieces = (hi - lo).div_ceil(max).max(1);
            (0..pieces).map(move |i| (lo + i * max, (lo + (i + 1) * max).min(hi)))
        })
        .collect()
}

/// Loop trips per step of the persistent forward kernel on a software adapter: each
/// invocation takes G = ceil(4U / 256) gates, each a U-trip dot product and its exit, plus the
/// gate loop's exit and the step itself.
pub(super) fn forward_trips_per_step(u: usize) -> usize {
    (4 * u).div_ceil(256) * (u + 2) + 2
}

/// Loop trips per step of the persistent backward kernel: a 4U-trip dot product, its exit and
/// the step.
pub(super) fn backward_trips_per_step(u: usize) -> usize {
    4 * u + 2
}

#[cfg(test)]
mod tests {
    use super::capped;

    #[test]
    fn long_ranges_are_cut_into_pieces_of_at_most_max_steps_covering_them_in_order() {
        assert_eq!(capped(vec![(0, 10)], 4), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(
            capped(vec![(0, 3), (3, 9)], 3),
            vec![(0, 3), (3, 6), (6, 9)]
        );
        // an empty sequence still gets its one (empty) dispatch
        assert_eq!(capped(vec![(0, 0)], 4), vec![(0, 0)]);
        assert_eq!(capped(vec![(5, 8)], 4096), vec![(5, 8)]);
    }
}
