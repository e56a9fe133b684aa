//! Which GPU kernels run a recurrent layer's forward and backward passes: per-step dispatches
//! or the persistent (row-blocked) kernels, by the caller's choice (the op's argument, the
//! layer's `kernel` builder) or, under [`RecurrentKernel::Auto`], by the units and the
//! adapter's type, with limits each cell gives ([`Rule`]).

use super::RecurrentKernel;
use crate::device::GpuContext;

/// The largest `units` the persistent kernels of every cell handle (a workgroup of at most 256
/// invocations, one or more per unit, within WebGPU's 16 KiB of workgroup memory);
/// [`RecurrentKernel::Persistent`] with more units is an [`Error::Config`](crate::Error::Config)
/// on a GPU.
pub const PERSISTENT_MAX_UNITS: usize = 256;

/// A cell's rule for [`RecurrentKernel::Auto`], and its names for the error that refuses
/// [`RecurrentKernel::Persistent`] past [`PERSISTENT_MAX_UNITS`].
pub(crate) struct Rule {
    /// "an LSTM", "a GRU", "a SimpleRNN".
    pub what: &'static str,
    /// The layer's builder ("Lstm") and the op's prefix ("lstm").
    pub layer: &'static str,
    pub op: &'static str,
    /// Auto runs the persistent kernels from this many units on a software adapter (measured
    /// there)...
    pub software_min_units: usize,
    /// ... and up to this many on a hardware GPU (reasoned: see the LSTM's
    /// `AUTO_PERSISTENT_MAX_UNITS`).
    pub hardware_max_units: usize,
}

/// Whether the persistent kernels run for `u` units on `ctx`, for the `asked` kernel.
pub(crate) fn use_persistent(
    ctx: &GpuContext,
    asked: RecurrentKernel,
    u: usize,
    rule: &Rule,
) -> crate::Result<bool> {
    if u == 0 {
        // No units: nothing to run (and no workgroup of zero invocations to build).
        return Ok(false);
    }
    let software = ctx.device_type() == wgpu::DeviceType::Cpu;
    match asked {
        RecurrentKernel::Auto if software => {
            Ok((rule.software_min_units..=PERSISTENT_MAX_UNITS).contains(&u))
        }
        RecurrentKernel::Auto => Ok(u <= rule.hardware_max_units.min(PERSISTENT_MAX_UNITS)),
        RecurrentKernel::PerStep => Ok(false),
        RecurrentKernel::Persistent if u <= PERSISTENT_MAX_UNITS => Ok(true),
        RecurrentKernel::Persistent => Err(crate::Error::Config(format!(
            "{what} of {u} units cannot run the persistent kernels, which take at most \
             {PERSISTENT_MAX_UNITS} units, and RecurrentKernel::Persistent was asked for (by \
             {layer}::kernel, or passed to {op}_forward_with / {op}_backward_with); use \
             RecurrentKernel::Auto or RecurrentKernel::PerStep there",
            what = rule.what,
            layer = rule.layer,
            op = rule.op,
        ))),
    }
}

/// The most steps one persistent dispatch runs on any adapter. On a hardware GPU a whole
/// sequence would otherwise be one dispatch however long it is, and operating systems reset
/// a GPU whose single dispatch runs past a couple of seconds (Windows's TDR); 4 096 steps are
/// a few milliseconds, and the extra dispatch per 4 096 steps costs nothing worth measuring.
pub(crate) const PERSISTENT_MAX_STEPS: u32 = 4096;

/// The step ranges the persistent kernels run, one dispatch each: the adapter's `ranges`
/// (from its loop budget), each cut into pieces of at most `max` steps.
pub(crate) fn capped(ranges: Vec<(u32, u32)>, max: u32) -> Vec<(u32, u32)> {
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
