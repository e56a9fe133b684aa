//! A recurrent layer's dropout (Keras's `dropout` and `recurrent_dropout`): the masks drawn
//! once per training call and used at every step, and the input projection and its
//! gradients through the input masks.
//!
//! Input masks `[n, B, F]`: n = 1 (Keras's fast path: x ⊙ m before one projection), or one
//! per gate G with recurrent dropout (Keras's implementation 1: xp_g = (x ⊙ m_g) · K_g + b_g).
//! Recurrent masks `[G, B, U]`, one per gate, applied by the cell's op to h_{t-1}.

use super::dropout::MaskStream;
use super::recurrent::Rows;
use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::dropout::{check_rate, dropout_apply, dropout_mask};
use crate::ops::matmul::{Transpose, matmul, matmul_bias_act};
use crate::ops::merge::slice;
use crate::ops::recurrent::{dropped_weight_grad, gate_input_grad, gate_projection};
use crate::tensor::Tensor;

/// The dropout rates of a recurrent layer (0: none).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rates {
    pub(super) input: f32,
    pub(super) recurrent: f32,
}

/// One training call's masks: input `[n, B, F]`, recurrent `[G, B, U]`.
pub(super) struct Drops {
    pub(super) input: Option<Tensor>,
    pub(super) recurrent: Option<Tensor>,
}

impl Rates {
    /// Both rates in `[0, 1)`, or an [`Error::Config`] naming layer `name`.
    pub(super) fn check(&self, name: &str) -> Result<()> {
        check_rate(&format!("{name} dropout"), self.input)?;
        check_rate(&format!("{name} recurrent_dropout"), self.recurrent)?;
        Ok(())
    }

    pub(super) fn any(&self) -> bool {
        self.input > 0.0 || self.recurrent > 0.0
    }

    /// The masks of one call of layer `name` (of `gates` gates) on a `[B, T, F]` batch of
    /// `U` units: none at inference; each drawn mask advances the stream's counter.
    pub(super) fn draw(
        &self,
        (stream, name, gates): (&MaskStream, &str, usize),
        training: bool,
        device: &Device,
        (b, f, u): (usize, usize, usize),
    ) -> Result<Drops> {
        let draw = |rate: f32, dims: [usize; 3]| -> Result<Option<Tensor>> {
            if !training || rate == 0.0 {
                return Ok(None);
            }
            let (seed, counter) = stream.next(name)?;
            dropout_mask(device, dims, rate, seed, counter).map(Some)
        };
        let per_gate = if self.recurrent > 0.0 { gates } else { 1 };
        Ok(Drops {
            input: draw(self.input, [per_gate, b, f])?,
            recurrent: draw(self.recurrent, [gates, b, u])?,
        })
    }
}

/// Mask `i` of `[n, B, F]` masks (or `[G, B, U]`) as `[B, F]`.
fn mask_at(masks: &Tensor, i: usize) -> Result<Tensor> {
    let &[_, b, f] = masks.dims() else {
        return Err(Error::Config("dropout masks are [n, B, F]".into()));
    };
    slice(masks, 0, i, 1)?.reshape([b, f])
}

/// x `[B, T, F]` as the kernel's gradient reads it, `[B·T, F]` (dropped by the one mask if
/// there is one; as it came with none, or with one mask per gate), and xp `[B, T, G·U]`:
/// x_d · kernel + bias with one mask, or per gate xp_g = (x ⊙ m_g) · kernel_g + bias_g.
pub(super) fn project(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    masks: Option<&Tensor>,
    (b, t, f): (usize, usize, usize),
) -> Result<(Tensor, Tensor)> {
    let gu = kernel.dims()[1];
    let (xk, xp) = match masks {
        Some(m) if m.dims()[0] > 1 => (x.clone(), gate_projection(x, m, kernel, bias)?),
        _ => {
            let xd = match masks {
                Some(m) => dropout_apply(x, &mask_at(m, 0)?)?,
                None => x.clone(),
            }
            .reshape([b * t, f])?;
            let xp = matmul_bias_act(&xd, kernel, Transpose::None, Some(bias), Activation::Linear)?;
            (xd, xp)
        }
    };
    Ok((xk.reshape([b * t, f])?, xp.reshape([b, t, gu])?))
}

/// dkernel `[F, G·U]` over the kept rows from x as [`project`] left it: x_dᵀ dz, or with
/// one mask per gate dkernel_g = (x ⊙ m_g)ᵀ dz_g.
pub(super) fn kernel_grad(
    x: &Tensor,
    masks: Option<&Tensor>,
    dz_k: &Tensor,
    rows: &Rows,
    (b, t): (usize, usize),
) -> Result<Tensor> {
    match masks {
        Some(m) if m.dims()[0] > 1 => {
            let x = x.reshape([b, t, x.numel() / (b * t).max(1)])?;
            dropped_weight_grad(&x, m, (0, m.dims()[0]), dz_k, rows.idx())
        }
        _ => matmul(&rows.kept(x)?, dz_k, Transpose::A),
    }
}

/// dx `[B, T, F]` from dz `[B·T, G·U]`: dz · kernelᵀ, times the input mask; with one mask
/// per gate, Σ_g (dz_g · kernel_gᵀ) ⊙ m_g.
pub(super) fn input_grad(
    dz: &Tensor,
    kernel: &Tensor,
    masks: Option<&Tensor>,
    in_dims: &[usize],
) -> Result<Tensor> {
    let Some(masks) = masks else {
        return matmul(dz, kernel, Transpose::B)?.reshape(in_dims.to_vec());
    };
    if masks.dims()[0] > 1 {
        return gate_input_grad(dz, kernel, masks);
    }
    let dx = matmul(dz, kernel, Transpose::B)?.reshape(in_dims.to_vec())?;
    dropout_apply(&dx, &mask_at(masks, 0)?)
}

/// The columns of drecurrent `[U, G·U]` of gates `g0..g0 + n` from their dz columns
/// `[N, n·U]` (kept rows) and h_prev `[B, T, U]`: hprevᵀ dz, or under recurrent dropout per
/// gate (hprev ⊙ r_g)ᵀ dz_g, h_prev as gate g's recurrent product saw it.
pub(super) fn recurrent_grad(
    hprev: &Tensor,
    rdrop: Option<&Tensor>,
    (g0, n): (usize, usize),
    dz: &Tensor,
    rows: &Rows,
    u: usize,
) -> Result<Tensor> {
    match rdrop {
        None => matmul(&rows.of(hprev, u)?, dz, Transpose::A),
        Some(rdrop) => dropped_weight_grad(hprev, rdrop, (g0, n), dz, rows.idx()),
    }
}
