//! The CPU twin of the loss kernel's row ops (`shaders/loss.wgsl`): the same clamping, log1p
//! forms and argmax ties, so both devices give one loss.

use super::{EPSILON, RowOp};
use crate::ops::softmax::log1p_pos;

impl RowOp {
    /// One row's value: pred `p` and target `y` are its C columns.
    pub(super) fn cpu(self, p: &[f32], y: &[f32]) -> f32 {
        let c = p.len() as f32;
        match self {
            RowOp::Cce => {
                let total: f32 = p.iter().sum();
                -p.iter()
                    .zip(y)
                    .map(|(&q, &t)| t * log_prob((q / total).clamp(EPSILON, 1.0 - EPSILON)))
                    .sum::<f32>()
            }
            RowOp::Bce => {
                -p.iter()
                    .zip(y)
                    .map(|(&q, &t)| {
                        let q = q.clamp(EPSILON, 1.0 - EPSILON);
                        t * log_prob(q) + (1.0 - t) * log_one_minus(q)
                    })
                    .sum::<f32>()
                    / c
            }
            RowOp::Mse => {
                p.iter()
                    .zip(y)
                    .map(|(&q, &t)| (q - t) * (q - t))
                    .sum::<f32>()
                    / c
            }
            RowOp::AccuracyCategorical => f32::from(u8::from(argmax(p) == argmax(y))),
            RowOp::AccuracyBinary => {
                p.iter()
                    .zip(y)
                    .filter(|&(&q, &t)| (q > 0.5) == (t > 0.5))
                    .count() as f32
                    / c
            }
        }
    }
}

/// log(q) for q in (0, 1], through log1p near 1 (as the kernel computes it).
fn log_prob(q: f32) -> f32 {
    if q >= 0.5 {
        -log1p_pos((1.0 - q) / q)
    } else {
        q.ln()
    }
}

/// log(1 - q), through log1p for small q (as the kernel computes it).
fn log_one_minus(q: f32) -> f32 {
    if q <= 0.5 {
        -log1p_pos(q / (1.0 - q))
    } else {
        (1.0 - q).ln()
    }
}

/// First index of the largest value (as the kernel breaks ties).
fn argmax(v: &[f32]) -> usize {
    (1..v.len()).fold(0, |best, c| if v[c] > v[best] { c } else { best })
}
