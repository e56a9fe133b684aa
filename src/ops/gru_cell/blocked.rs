//! The GRU's persistent kernels, row-blocked (`shaders/gru_cell_blocked.wgsl`,
//! `shaders/gru_cell_blocked_backward.wgsl`), on the recurrent driver's plan and generation
//! ([`ops::recurrent::blocked`](crate::ops::recurrent::blocked)), and when
//! [`RecurrentKernel::Auto`] runs them.

use super::RecurrentKernel;
use crate::ops::recurrent::{Blocked, Rule};

/// The largest `units` for which [`RecurrentKernel::Auto`] runs a GRU's persistent kernels on
/// a hardware GPU: the LSTM's reasoned rule
/// ([`lstm_cell::AUTO_PERSISTENT_MAX_UNITS`](crate::ops::lstm_cell::AUTO_PERSISTENT_MAX_UNITS)),
/// a GRU's step being the same chain of recurrent-kernel rows over three gates instead of
/// four (plus, resetting before the product, a second chain as long).
pub const AUTO_PERSISTENT_MAX_UNITS: usize = 64;

/// The smallest `units` for which [`RecurrentKernel::Auto`] runs a GRU's persistent kernels
/// on a software adapter (lavapipe), measured there (forward + backward, B = 64, T = 100, best
/// of 2-3 on a loaded 2-core VM, BENCHMARKS.md): at 64 units the persistent kernels took
/// 0.46x (reset_after) and 0.71x (before) the per-step dispatches' time at load 7-9, a tie
/// (0.91x, 1.10x) at load 12; 0.41-0.66x at 128; 2.3-3.3x at 32, as the LSTM's did under the
/// same load (3.4x at 32). Unmeasured between 32 and 64: per-step dispatches stay there.
pub const SOFTWARE_PERSISTENT_MIN_UNITS: usize = 64;

pub(super) const RULE: Rule = Rule {
    what: "a GRU",
    layer: "Gru",
    op: "gru",
    software_min_units: SOFTWARE_PERSISTENT_MIN_UNITS,
    hardware_max_units: AUTO_PERSISTENT_MAX_UNITS,
};

/// The bindings and helpers of each direction's kernels, then the entry point's file `$entry`.
macro_rules! forward_body {
    ($entry:literal) => {
        concat!(
            include_str!("../../../shaders/recurrent_blocked_rdrop.wgsl"),
            include_str!("../../../shaders/gru_cell_blocked.wgsl"),
            include_str!($entry)
        )
    };
}
macro_rules! backward_body {
    ($entry:literal) => {
        concat!(
            include_str!("../../../shaders/recurrent_blocked_rdrop.wgsl"),
            include_str!("../../../shaders/recurrent_blocked_product.wgsl"),
            include_str!("../../../shaders/gru_cell_blocked_backward.wgsl"),
            include_str!($entry)
        )
    };
}

/// reset_after's forward: one product of three gates per step.
pub(super) static FORWARD: Blocked = Blocked {
    name: "gru_cell_blocked",
    body: forward_body!("../../../shaders/gru_cell_blocked_after.wgsl"),
    entry: "gru_forward_blocked",
    bindings: 8,
    backward: false,
    gates: 3,
    phases: &[3],
    states: 1,
};

/// Reset before the product, forward: z and r, then the candidate from r ⊙ h(t-1), which
/// workgroup memory holds beside h.
pub(super) static FORWARD_RESET: Blocked = Blocked {
    name: "gru_cell_blocked_reset",
    body: forward_body!("../../../shaders/gru_cell_blocked_reset.wgsl"),
    entry: "gru_forward_blocked_reset",
    bindings: 8,
    backward: false,
    gates: 3,
    phases: &[2, 1],
    states: 2,
};

/// reset_after's backward: one product over the three gates' dhz per step.
pub(super) static BACKWARD: Blocked = Blocked {
    name: "gru_cell_blocked_backward",
    body: backward_body!("../../../shaders/gru_cell_blocked_backward_after.wgsl"),
    entry: "gru_backward_blocked",
    bindings: 8,
    backward: true,
    gates: 3,
    phases: &[3],
    states: 1,
};

/// Reset before the product, backward: drh from the candidate's gradient, then z's and r's.
pub(super) static BACKWARD_RESET: Blocked = Blocked {
    name: "gru_cell_blocked_backward_reset",
    body: backward_body!("../../../shaders/gru_cell_blocked_backward_reset.wgsl"),
    entry: "gru_backward_blocked_reset",
    bindings: 8,
    backward: true,
    gates: 3,
    phases: &[1, 2],
    states: 1,
};

/// The persistent forward and backward kernels of a variant.
pub(super) fn forward_kernel(reset_after: bool) -> &'static Blocked {
    if reset_after {
        &FORWARD
    } else {
        &FORWARD_RESET
    }
}

pub(super) fn backward_kernel(reset_after: bool) -> &'static Blocked {
    if reset_after {
        &BACKWARD
    } else {
        &BACKWARD_RESET
    }
}

/// Whether a GRU of `u` units runs the persistent kernels on `ctx` for the `asked` kernel.
pub(super) fn use_persistent(
    ctx: &crate::device::GpuContext,
    asked: RecurrentKernel,
    u: usize,
) -> crate::Result<bool> {
    crate::ops::recurrent::use_persistent(ctx, asked, u, &RULE)
}
