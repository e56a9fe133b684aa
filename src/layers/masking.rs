//! `Masking`: marks the time steps whose features all equal `mask_value` as masked for the
//! layers downstream (and zeroes them), as Keras's `Masking(mask_value)`.

use rand::rngs::StdRng;

use super::{Dims, Layer, Param};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::masking::{masking_backward, masking_forward};
use crate::tensor::Tensor;

/// Masks padded time steps of `[B, T, F]` sequences.
///
/// ```
/// use wgfit::layers::Masking;
/// let layer = Masking::new(0.0);
/// ```
#[derive(Debug, Clone)]
pub struct Masking {
    mask_value: f32,
    input: Option<Dims>,
    mask: Option<Tensor>,
}

impl Masking {
    pub fn new(mask_value: f32) -> Self {
        Masking {
            mask_value,
            input: None,
            mask: None,
        }
    }

    /// The per-sample input shape, e.g. `[None, Some(10)]` for any length of 10 features.
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }
}

impl Layer for Masking {
    fn kind(&self) -> &'static str {
        "masking"
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(
        &mut self,
        _device: &Device,
        input: &[Option<usize>],
        _rng: &mut StdRng,
    ) -> Result<Dims> {
        if input.len() != 2 {
            return Err(Error::Config(format!(
                "Masking takes [T, F] samples, got {}",
                crate::error::fmt_dims(input)
            )));
        }
        Ok(input.to_vec())
    }

    fn params(&self) -> Vec<&Param> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        Vec::new()
    }

    fn forward(&mut self, x: &Tensor, training: bool) -> Result<Tensor> {
        Ok(self.forward_masked(x, None, training)?.0)
    }

    // x: [B, T, F] -> (x with masked steps zeroed, mask: [B, T])
    fn forward_masked(
        &mut self,
        x: &Tensor,
        _mask: Option<&Tensor>,
        _training: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (out, mask) = masking_forward(x, self.mask_value)?;
        self.mask = Some(mask.clone());
        Ok((out, Some(mask)))
    }

    // dx = dy * mask
    fn backward(&mut self, dy: &Tensor, need_dx: bool) -> Result<Option<Tensor>> {
        let mask = self
            .mask
            .as_ref()
            .ok_or_else(|| Error::Config("Masking backward before forward".into()))?;
        need_dx.then(|| masking_backward(dy, mask)).transpose()
    }
}
