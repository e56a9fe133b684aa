//! Which GPU kernels run an LSTM's forward and backward passes: per-step dispatches or the
//! persistent kernels, by the caller's choice (the op's argument, [`Lstm::kernel`] for a
//! layer) or, under [`LstmKernel::Auto`], by the units and the adapter's type (the rule the
//! recurrent driver applies to every cell).
//!
//! [`Lstm::kernel`]: crate::layers::Lstm::kernel
//! [`LstmKernel::Auto`]: super::LstmKernel::Auto

use crate::ops::recurrent::Rule;

pub use crate::ops::recurrent::PERSISTENT_MAX_UNITS;

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
///
/// [`LstmKernel::Auto`]: super::LstmKernel::Auto
pub const AUTO_PERSISTENT_MAX_UNITS: usize = 64;

/// The smallest `units` for which [`LstmKernel::Auto`] runs the persistent kernels on a
/// software adapter (lavapipe), measured there (forward + backward, B = 64, T = 100, best of
/// 3 on a 2-core VM, BENCHMARKS.md): the row-blocked persistent kernels took 0.74x the
/// per-step dispatches' time at 48 units, 0.54x at 64, 0.40x at 128 and 0.54x at 256, but
/// 1.07x at 32 (within this VM's noise, so per-step dispatches, the old choice, stay there).
///
/// [`LstmKernel::Auto`]: super::LstmKernel::Auto
pub const SOFTWARE_PERSISTENT_MIN_UNITS: usize = 33;

/// The LSTM's names and limits for the recurrent driver's choice.
pub(super) const RULE: Rule = Rule {
    what: "an LSTM",
    layer: "Lstm",
    op: "lstm",
    software_min_units: SOFTWARE_PERSISTENT_MIN_UNITS,
    hardware_max_units: AUTO_PERSISTENT_MAX_UNITS,
};
