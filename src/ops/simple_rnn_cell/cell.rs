//! The SimpleRNN as a cell of the CPU recurrent driver (`ops::recurrent::cpu`), the CPU twin
//! of `shaders/simple_rnn_cell.wgsl` and `shaders/simple_rnn_cell_backward.wgsl`: its one
//! "gate" is h itself, it has no auxiliary state, and the gradient of `h_prev · rk` is dz.

use crate::ops::fast_math::tanh_f32;
use crate::ops::recurrent::cpu::{CpuCell, GradIn, GradOut, StepIn, StepOut};

pub(super) struct SimpleRnnCell;

impl CpuCell for SimpleRnnCell {
    const GATES: usize = 1;
    const DHZ_IS_DZ: bool = true;
    const DIRECT: bool = false;

    // h = tanh(xp + h_prev · rk)
    fn forward(&self, s: StepIn<'_>, out: StepOut<'_>) {
        for k in 0..out.h.len() {
            let h = tanh_f32(s.xp[k] + s.hz.map_or(0.0, |hz| hz[k]));
            (out.gates[k], out.h[k], out.aux[k]) = (h, h, 0.0);
        }
    }

    // dz = dh (1 - h²)
    fn backward(&self, s: GradIn<'_>, out: GradOut<'_>) {
        for (k, &h) in s.gates.iter().enumerate() {
            out.dz[k] = out.dh[k] * (1.0 - h * h);
        }
    }
}
