//! The LSTM's persistent kernels, row-blocked (`shaders/lstm_cell_blocked.wgsl`,
//! `shaders/lstm_cell_blocked_backward.wgsl`), on the recurrent driver's plan and generation
//! ([`ops::recurrent::blocked`](crate::ops::recurrent::blocked)): one dot product of four
//! gates per step each way.

use crate::ops::recurrent::Blocked;

/// The forward kernel, entry `lstm_forward_blocked`.
pub(super) static FORWARD: Blocked = Blocked {
    name: "lstm_cell_blocked",
    body: include_str!("../../../shaders/lstm_cell_blocked.wgsl"),
    entry: "lstm_forward_blocked",
    bindings: 7,
    backward: false,
    gates: 4,
    phases: &[4],
    states: 1,
};

/// The backward kernel, entry `lstm_backward_blocked`.
pub(super) static BACKWARD: Blocked = Blocked {
    name: "lstm_cell_blocked_backward",
    body: include_str!("../../../shaders/lstm_cell_blocked_backward.wgsl"),
    entry: "lstm_backward_blocked",
    bindings: 8,
    backward: true,
    gates: 4,
    phases: &[4],
    states: 1,
};
