//! The LSTM as a cell of the CPU recurrent driver (`ops::recurrent::cpu`): its auxiliary
//! state is c, its running gradient dc, and the gradient of `h_prev · rk` is dz itself.

use super::cell::{cell_backward, cell_forward};
use crate::ops::recurrent::cpu::{CpuCell, GradIn, GradOut, StepIn, StepOut};

pub(super) struct LstmCell;

impl CpuCell for LstmCell {
    const GATES: usize = 4;
    const DHZ_IS_DZ: bool = true;
    const DIRECT: bool = false;

    fn forward(&self, s: StepIn<'_>, out: StepOut<'_>) {
        cell_forward(s.xp, s.hz, s.aux_prev, out.gates, out.aux, out.h);
    }

    fn backward(&self, s: GradIn<'_>, out: GradOut<'_>) {
        cell_backward(s.gates, s.aux_prev, s.aux, out.dh, out.carry, out.dz);
    }
}
