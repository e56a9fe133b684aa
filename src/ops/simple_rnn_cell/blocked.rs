//! The SimpleRNN's persistent kernels, row-blocked (`shaders/simple_rnn_cell_blocked.wgsl`,
//! `shaders/simple_rnn_cell_blocked_backward.wgsl`), on the recurrent driver's plan and
//! generation ([`ops::recurrent::blocked`](crate::ops::recurrent::blocked)), and when
//! [`RecurrentKernel::Auto`] runs them.

use super::RecurrentKernel;
use crate::ops::recurrent::{Blocked, Rule};

/// The largest `units` for which [`RecurrentKernel::Auto`] runs a SimpleRNN's persistent
/// kernels on a hardware GPU: the LSTM's reasoned rule
/// ([`lstm_cell::AUTO_PERSISTENT_MAX_UNITS`](crate::ops::lstm_cell::AUTO_PERSISTENT_MAX_UNITS)),
/// a SimpleRNN's step being the same chain of recurrent-kernel rows over one gate.
pub const AUTO_PERSISTENT_MAX_UNITS: usize = 64;

/// The smallest `units` for which [`RecurrentKernel::Auto`] runs a SimpleRNN's persistent
/// kernels on a software adapter (lavapipe), measured there (forward + backward, B = 64,
/// T = 100, best of 3 on a loaded 2-core VM, BENCHMARKS.md): the persistent kernels took
/// 0.64-0.67x the per-step dispatches' time at 128 units (GRU both variants, SimpleRNN),
/// 0.91-1.10x at 64 (a tie) and 2.3-3.3x at 32, as the LSTM's did right after under the same
/// load (3.4x at 32, 0.99x at 64).
pub const SOFTWARE_PERSISTENT_MIN_UNITS: usize = 65;

const RULE: Rule = Rule {
    what: "a SimpleRNN",
    layer: "SimpleRnn",
    op: "simple_rnn",
    software_min_units: SOFTWARE_PERSISTENT_MIN_UNITS,
    hardware_max_units: AUTO_PERSISTENT_MAX_UNITS,
};

pub(super) static FORWARD: Blocked = Blocked {
    name: "simple_rnn_cell_blocked",
    body: concat!(
        include_str!("../../../shaders/recurrent_blocked_rdrop.wgsl"),
        include_str!("../../../shaders/simple_rnn_cell_blocked.wgsl")
    ),
    entry: "rnn_forward_blocked",
    bindings: 5,
    backward: false,
    gates: 1,
    phases: &[1],
    states: 1,
};

pub(super) static BACKWARD: Blocked = Blocked {
    name: "simple_rnn_cell_blocked_backward",
    body: concat!(
        include_str!("../../../shaders/recurrent_blocked_rdrop.wgsl"),
        include_str!("../../../shaders/recurrent_blocked_product.wgsl"),
        include_str!("../../../shaders/simple_rnn_cell_blocked_backward.wgsl")
    ),
    entry: "rnn_backward_blocked",
    bindings: 6,
    backward: true,
    gates: 1,
    phases: &[1],
    states: 1,
};

/// Whether a SimpleRNN of `u` units runs the persistent kernels on `ctx` for the `asked`
/// kernel.
pub(super) fn use_persistent(
    ctx: &crate::device::GpuContext,
    asked: RecurrentKernel,
    u: usize,
) -> crate::Result<bool> {
    crate::ops::recurrent::use_persistent(ctx, asked, u, &RULE)
}
