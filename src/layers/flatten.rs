//! `Flatten`: `[B, d1, d2, ...]` -> `[B, d1·d2·...]`; a reshape, forward and backward.

use rand::rngs::StdRng;

use super::{Backward, Dims, Forward, Layer, LayerConfig, MaskFlow, Saved, single, single_dims};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Flattens each sample to a vector, as Keras's `Flatten`: `x: [B, d1, d2, ...]` ->
/// `[B, d1·d2·...]`. No weights. Every input dim must be known (building it after a
/// sequence's free time axis is an [`Error::Config`]); a mask from the layer before stops here.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new()
///     .add(Flatten::new().input_shape([28, 28]))
///     .add(Dense::new(10).activation(Activation::Softmax));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::CategoricalCrossentropy, &[])?;
/// assert_eq!(model.count_params(), 28 * 28 * 10 + 10);
/// let y = model.predict(&ndarray::Array3::<f32>::zeros((3, 28, 28)))?;
/// assert_eq!(y.shape(), &[3, 10]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Flatten {
    input: Option<Dims>,
}

impl Flatten {
    /// A flatten layer; its input shape comes from [`Flatten::input_shape`] or the data.
    pub fn new() -> Self {
        Self::default()
    }

    /// The per-sample input shape (Keras's `input_shape=(28, 28)`), when this is the model's
    /// first layer: the model's weights are then created at `compile`.
    #[must_use]
    pub fn input_shape<const N: usize>(mut self, dims: [usize; N]) -> Self {
        self.input = Some(dims.iter().map(|&d| Some(d)).collect());
        self
    }
}

impl Layer for Flatten {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Drops
    }

    fn kind(&self) -> &'static str {
        "flatten"
    }

    fn config(&self) -> Result<LayerConfig> {
        super::config::plain("Flatten")
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    fn build(&mut self, _device: &Device, inputs: &[Dims], _rng: &mut StdRng) -> Result<Vec<Dims>> {
        let input = single_dims("flatten", inputs)?;
        let size: Option<usize> = input.iter().try_fold(1usize, |acc, d| d.map(|d| acc * d));
        match size {
            Some(n) => Ok(vec![vec![Some(n)]]),
            None => Err(Error::Config(
                "Flatten needs every input dim known (no None dims)".into(),
            )),
        }
    }

    // x: [B, d1, d2, ...] -> [B, d1 d2 ...]; a flattened sequence has no time axis left to mask
    fn forward(
        &self,
        inputs: &[&Tensor],
        _masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let x = *single("flatten", inputs)?;
        let batch = x.dims().first().copied().unwrap_or(0);
        let per_sample = x.numel().checked_div(batch).unwrap_or(0);
        let in_dims = x.dims().to_vec();
        Ok(Forward::one(x.reshape([batch, per_sample])?, None).saving(training, || in_dims))
    }

    // dx = dy reshaped back to the input's shape
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let in_dims: &Vec<usize> = saved.get("flatten")?;
        let dx = need_dx[0]
            .then(|| dy[0].reshape(in_dims.clone()))
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}
