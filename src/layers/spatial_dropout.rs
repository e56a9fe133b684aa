//! `SpatialDropout1D`: Keras's dropout of whole feature channels of a sequence.

use rand::rngs::StdRng;

use super::dropout::MaskStream;
use super::{Backward, Dims, Forward, Layer, LayerConfig, Saved, single, single_dims};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::dropout::{check_rate, dropout_apply, dropout_mask};
use crate::tensor::Tensor;

/// Drops whole feature channels of `[B, T, F]` sequences while training, as Keras's
/// `SpatialDropout1D(rate)`: one draw per sample and feature, the same at every step (Keras's
/// `noise_shape=(B, 1, F)`); kept channels are scaled by `1 / (1 - rate)`. The identity in
/// `predict` and `evaluate`. Output shape = input shape; masks pass through (an Embedding's
/// `mask_zero` still reaches the LSTM after it); no weights.
///
/// Masks are seeded and reproducible as [`Dropout`](crate::layers::Dropout)'s: the same model
/// and batches give the same channels dropped on the CPU reference and on any GPU. Samples
/// must be `[T, F]`, and the rate in `[0, 1)` (else an [`Error::Config`] at build).
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new()
///     .add(Embedding::new(20, 8).mask_zero(true))
///     .add(SpatialDropout1D::new(0.2).seed(7))
///     .add(Lstm::new(4))
///     .add(Dense::new(1).activation(Activation::Sigmoid));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::BinaryCrossentropy, &[])?;
/// let x = ndarray::arr2(&[[3.0f32, 4.0, 0.0], [5.0, 6.0, 7.0]]);
/// let y = ndarray::arr1(&[0.0f32, 1.0]);
/// model.fit(&x, &y, FitOptions::new().epochs(2).verbose(0))?;
/// assert_eq!(model.predict(&x)?.shape(), &[2, 1]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SpatialDropout1D {
    rate: f32,
    input: Option<Dims>,
    stream: MaskStream,
}

impl SpatialDropout1D {
    /// Drops a fraction `rate` (in `[0, 1)`) of the feature channels while training.
    pub fn new(rate: f32) -> Self {
        SpatialDropout1D {
            rate,
            input: None,
            stream: MaskStream::new(),
        }
    }

    /// The seed of this layer's masks (Keras's `seed=`), instead of one drawn from the
    /// model's seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.stream.fix(seed);
        self
    }

    /// The per-sample input shape when this is the model's first layer, e.g.
    /// `[None, Some(16)]`.
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }
}

impl SpatialDropout1D {
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        Ok(SpatialDropout1D {
            stream: MaskStream::from_config(c)?,
            ..SpatialDropout1D::new(c.float("rate")?)
        })
    }
}

impl Layer for SpatialDropout1D {
    fn kind(&self) -> &'static str {
        "spatial_dropout1d"
    }

    fn config(&self) -> Result<LayerConfig> {
        Ok(self
            .stream
            .config(LayerConfig::new("SpatialDropout1D").with("rate", self.rate)))
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, _device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let input = single_dims("spatial_dropout1d", inputs)?;
        if input.len() != 2 {
            return Err(Error::Config(format!(
                "SpatialDropout1D takes [T, F] samples, got {}",
                crate::error::fmt_dims(input)
            )));
        }
        check_rate("SpatialDropout1D", self.rate)?;
        self.stream.build(rng);
        Ok(vec![input.clone()])
    }

    // x: [B, T, F] -> x * mask[b, f], mask: [B, F] of 0 and 1 / (1 - rate), drawn per call
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let x = *single("spatial_dropout1d", inputs)?;
        let mask = masks.first().copied().flatten().cloned();
        self.stream.seed("SpatialDropout1D")?;
        if !training || self.rate == 0.0 {
            return Ok(Forward::one(x.clone(), mask).saving(training, || None::<Tensor>));
        }
        let &[b, _, f] = x.dims() else {
            return Err(crate::ops::shape_error(
                "spatial_dropout1d",
                &[None, None, None],
                x.dims(),
                "SpatialDropout1D takes [B, T, F] sequences",
            ));
        };
        let (seed, counter) = self.stream.next("SpatialDropout1D")?;
        let keep = dropout_mask(x.device(), [b, f], self.rate, seed, counter)?;
        let y = dropout_apply(x, &keep)?;
        Ok(Forward::one(y, mask).saving(training, || Some(keep)))
    }

    // dx = dy * mask[b, f], the forward's mask broadcast over the steps
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let keep: &Option<Tensor> = saved.get("spatial_dropout1d")?;
        let dx = need_dx[0]
            .then(|| match keep {
                Some(m) => dropout_apply(&dy[0], m),
                None => Ok(dy[0].clone()),
            })
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}
