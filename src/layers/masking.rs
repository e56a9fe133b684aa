//! `Masking`: marks the time steps whose features all equal `mask_value` as masked for the
//! layers downstream (and zeroes them), as Keras's `Masking(mask_value)`.

use rand::rngs::StdRng;

use super::{Backward, Dims, Forward, Layer, LayerConfig, MaskFlow, Saved, single, single_dims};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::masking::{masking_backward, masking_forward};
use crate::tensor::Tensor;

/// Masks padded time steps of `[B, T, F]` sequences, as Keras's `Masking(mask_value=0.)`.
///
/// A step whose `F` features all equal `mask_value` is masked: it is zeroed, an [`Lstm`]
/// after it skips it (carrying its state over), and the loss and metrics of a sequence
/// output ignore it. Output shape = input shape; no weights. Samples must be `[T, F]`
/// (anything else is an [`Error::Config`] at build).
///
/// [`Lstm`]: crate::layers::Lstm
///
/// ```
/// use wgfit::prelude::*;
/// // Two sequences of 3 steps, 2 features; the second is padded with zeros after 1 step.
/// let x = ndarray::arr3(&[[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]],
///                         [[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]]);
/// let mut model = Sequential::new()
///     .add(Masking::new(0.0).input_shape([None, Some(2)]))
///     .add(Lstm::new(4));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// let h = model.predict(&x)?;
/// // The padded sample's last state is its state after its one real step.
/// let first_step = model.predict(&x.slice(ndarray::s![1..2, 0..1, ..]))?;
/// assert_eq!(h.shape(), &[2, 4]);
/// let (a, b) = (h.index_axis(ndarray::Axis(0), 1), first_step.index_axis(ndarray::Axis(0), 0));
/// assert!(a.iter().zip(b.iter()).all(|(a, b)| (a - b).abs() < 1e-6));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Masking {
    mask_value: f32,
    input: Option<Dims>,
}

impl Masking {
    /// Masks the steps whose features all equal `mask_value` (Keras's `mask_value=`; use the
    /// value the sequences were padded with).
    pub fn new(mask_value: f32) -> Self {
        Masking {
            mask_value,
            input: None,
        }
    }

    /// The per-sample input shape when this is the model's first layer, e.g.
    /// `[None, Some(10)]` for any length of 10 features (Keras's `input_shape=(None, 10)`).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }
}

impl Layer for Masking {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Makes { ops: 2 }
    }

    fn kind(&self) -> &'static str {
        "masking"
    }

    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("Masking").with("mask_value", self.mask_value))
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, _device: &Device, inputs: &[Dims], _rng: &mut StdRng) -> Result<Vec<Dims>> {
        let input = single_dims("masking", inputs)?;
        if input.len() != 2 {
            return Err(Error::Config(format!(
                "Masking takes [T, F] samples, got {}",
                crate::error::fmt_dims(input)
            )));
        }
        Ok(vec![input.clone()])
    }

    // x: [B, T, F] -> (x with masked steps zeroed, mask: [B, T])
    fn forward(
        &self,
        inputs: &[&Tensor],
        _masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let (out, mask) = masking_forward(single("masking", inputs)?, self.mask_value)?;
        let kept = mask.clone();
        Ok(Forward::one(out, Some(mask)).saving(training, || kept))
    }

    // dx = dy * mask
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let mask: &Tensor = saved.get("masking")?;
        let dx = need_dx[0]
            .then(|| masking_backward(&dy[0], mask))
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}
