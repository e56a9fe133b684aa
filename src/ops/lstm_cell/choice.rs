//! Which GPU kernels run an LSTM's forward and backward passes: per-step dispatches or the
//! persistent kernels, by the caller's choice (the op's argument, [`Lstm::kernel`] for a
//! layer) or, under [`LstmKernel::Auto`], by the units and the adapter's type.
//!
//! [`Lstm::kernel`]: crate::layers::Lstm::kernel

use super::LstmKernel;

/// The largest `units` the persistent kernels handle (a workgroup of at most 256 invocations,
/// one or more per unit, within WebGPU's 16 KiB of workgroup memory);
/// [`LstmKernel::Persistent`] with more units is an [`Error::Config`](crate::Error::Config)
/// on a GPU.
pub const PERSISTENT_MAX_UNITS: usize = 256;

/// The largest `units` for which [`LstmKernel::Auto`] runs the persistent kernels on a
/// hardware GPU; a reasoned rule, not yet measured on one (`benches/peers/gpu_compare.sh`
/// measures both kernels there).
///
/// The reasoning. A per-step dispatch costs a fixed few microseconds (host recording, the
/// GPU's launch and drain) and runs B x U invocations, each walking U rows of the recurrent
/// kernel in one dependent chain. The persistent kernel pays that cost once per sequence,
/// but runs only B / 4 workgroups (B = 64: 16 of an H100's 132 multiprocessors), each step's
/// latency being one invocation's chain: ceil(U / S) rows of the recurrent kernel (S, the
/// invocations sharing a unit, is 8 up to 32 units, 4 at 64, 2 at 128, 1 at 256) plus two
/// barriers. Up to 64 units that chain is at most 16 loads deep, from a recurrent kernel of
/// at most 64 KiB that stays in L1/L2 (in workgroup memory itself up to 22 units), so a step
/// should cost less than a dispatch's fixed cost and the persistent kernel win outright.
/// From 128 units the chain is 64-256 loads deep on a few multiprocessors while per-step
/// dispatches spread the same work over B x U invocations, so which wins depends on the
/// device's dispatch cost: per-step dispatches stay the choice there until one is measured.
pub const AUTO_PERSISTENT_MAX_UNITS: usize = 64;

/// The smallest `units` for which [`LstmKernel::Auto`] runs the persistent kernels on a
/// software adapter (lavapipe), measured there (forward + backward, B = 64, T = 100, best of
/// 3 on a 2-core VM, BENCHMARKS.md): the row-blocked persistent kernels took 0.74x the
/// per-step dispatches' time at 48 units, 0.54x at 64, 0.40x at 128 and 0.54x at 256, but
/// 1.07x at 32 (within this VM's noise, so per-step dispatches, the old choice, stay there).
pub const SOFTWARE_PERSISTENT_MIN_UNITS: usize = 33;

/// Whether the persistent kernels run for `u` units on `ctx`, for the `asked` kernel (the
/// rule for [`LstmKernel::Auto`]: [`AUTO_PERSISTENT_MAX_UNITS`]).
pub(super) fn use_persistent(
    ctx: &crate::device::GpuContext,
    kernel: LstmKernel,
    u: usize,
) -> crate::Result<bool> {
    if u == 0 {
        // No units: nothing to run (and no workgroup of zero invocations to build).
        return Ok(false);
    }
    match kernel {
        LstmKernel::Auto if software(ctx) => {
            Ok((SOFTWARE_PERSISTENT_MIN_UNITS..=PERSISTENT_MAX_UNITS).contains(&u))
        }
        LstmKernel::Auto => Ok(u <= AUTO_PERSISTENT_MAX_UNITS),
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
