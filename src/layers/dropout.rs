//! `Dropout`: Keras's inverted dropout, and the seeded stream of masks that every dropout
//! layer draws from (SpatialDropout1D here, the recurrent layers' dropouts later).

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use rand::rngs::StdRng;

use super::{Backward, Dims, Forward, Layer, LayerConfig, Saved, single, single_dims};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::dropout::{check_rate, dropout_apply, dropout_mask};
use crate::tensor::Tensor;

/// Where a dropout layer's masks come from: a seed fixed at build (drawn from the model's
/// seed, or the layer's own `.seed(n)`), and a counter of training calls, so call `k` of a
/// built layer always draws the same mask ([`crate::ops::dropout::keep_hash`]). The counter
/// is atomic because forward passes take `&self`.
#[derive(Debug)]
pub(crate) struct MaskStream {
    fixed: Option<u64>,
    seed: Option<u64>,
    calls: AtomicU64,
    // (seed, calls) of a saved model's stream, taken up at the next build
    resume: Option<(u64, u64)>,
}

impl MaskStream {
    pub(crate) fn new() -> Self {
        MaskStream {
            fixed: None,
            seed: None,
            calls: AtomicU64::new(0),
            resume: None,
        }
    }

    pub(crate) fn fix(&mut self, seed: u64) {
        self.fixed = Some(seed);
    }

    /// Starts the stream over. Always draws from `rng`, so a layer's own `.seed(n)` leaves
    /// the other layers' initial weights as they were.
    pub(crate) fn build(&mut self, rng: &mut StdRng) {
        let drawn: u64 = rng.random();
        self.seed = Some(self.fixed.unwrap_or(drawn));
        self.calls = AtomicU64::new(0);
        if let Some((seed, calls)) = self.resume.take() {
            self.seed = Some(seed);
            self.calls = AtomicU64::new(calls);
        }
    }

    /// Its part of a layer's config: Keras's `seed` (the layer's own, or null) and, once
    /// built, the seed in use and the training calls drawn so far (`mask_stream`), so a
    /// loaded model goes on with the masks the saved one would have drawn next.
    pub(crate) fn config(&self, c: LayerConfig) -> LayerConfig {
        let c = c.with("seed", self.fixed);
        match self.seed {
            Some(seed) => c.with(
                "mask_stream",
                vec![seed, self.calls.load(Ordering::Relaxed)],
            ),
            None => c,
        }
    }

    /// The stream a config describes (see [`MaskStream::config`]).
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        let mut stream = MaskStream::new();
        stream.fixed = c.seed("seed")?;
        stream.resume = match c.config.get("mask_stream") {
            None => None,
            Some(v) => match v.as_array().map(|a| a.iter().map(|x| x.as_u64()).collect()) {
                Some(Some::<Vec<u64>>(pair)) if pair.len() == 2 => Some((pair[0], pair[1])),
                _ => {
                    return Err(Error::Config(format!(
                        "{} config: 'mask_stream' must be [seed, calls], got {v}",
                        c.class_name
                    )));
                }
            },
        };
        Ok(stream)
    }

    /// The seed, or an [`Error::Config`] naming `layer` before build.
    pub(crate) fn seed(&self, layer: &str) -> Result<u64> {
        self.seed
            .ok_or_else(|| Error::Config(format!("{layer}: used before it was built")))
    }

    /// The `(seed, counter)` of the next training call (advancing the counter); an
    /// [`Error::Config`] naming `layer` before build.
    pub(crate) fn next(&self, layer: &str) -> Result<(u64, u64)> {
        let seed = self.seed(layer)?;
        Ok((seed, self.calls.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Clone for MaskStream {
    fn clone(&self) -> Self {
        MaskStream {
            fixed: self.fixed,
            seed: self.seed,
            calls: AtomicU64::new(self.calls.load(Ordering::Relaxed)),
            resume: self.resume,
        }
    }
}

/// Randomly zeroes a fraction `rate` of its input's elements while training and scales the
/// rest by `1 / (1 - rate)` (inverted dropout), as Keras's `Dropout(rate)`; the identity in
/// `predict` and `evaluate`. Output shape = input shape; masks pass through; no weights.
///
/// **Reproducible.** Each training call draws a fresh mask from a counter-based hash of the
/// layer's seed, the call's number and the element's index: the same model (same seed, or
/// the same `.seed(n)` on the layer) fed the same batches draws the same masks, bit for bit,
/// on the CPU reference and on any GPU. The seed is drawn from the model's seed at build
/// (compiling again starts the stream over). Keras's own random stream cannot be matched, so
/// a training step with `rate > 0` does not reproduce Keras's numbers; inference does.
///
/// A rate outside `[0, 1)` is an [`Error::Config`] naming the layer, at build.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new()
///     .add(Dense::new(8).activation(Activation::Relu).input_shape([4]))
///     .add(Dropout::new(0.5))
///     .add(Dense::new(1));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// let x = ndarray::Array2::<f32>::ones((16, 4));
/// let y = ndarray::Array1::<f32>::zeros(16);
/// model.fit(&x, &y, FitOptions::new().epochs(2).verbose(0))?; // masks drawn while fitting
/// assert_eq!(model.predict(&x)?, model.predict(&x)?);         // none at inference
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    rate: f32,
    input: Option<Dims>,
    stream: MaskStream,
}

impl Dropout {
    /// Drops a fraction `rate` (in `[0, 1)`) of the elements while training (Keras's `rate=`).
    pub fn new(rate: f32) -> Self {
        Dropout {
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

    /// The per-sample input shape when this is the model's first layer.
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }
}

impl Dropout {
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        Ok(Dropout {
            stream: MaskStream::from_config(c)?,
            ..Dropout::new(c.float("rate")?)
        })
    }
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "dropout"
    }

    fn config(&self) -> Result<LayerConfig> {
        Ok(self
            .stream
            .config(LayerConfig::new("Dropout").with("rate", self.rate)))
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    fn build(&mut self, _device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let input = single_dims("dropout", inputs)?;
        check_rate("Dropout", self.rate)?;
        self.stream.build(rng);
        Ok(vec![input.clone()])
    }

    // x: [B, ...] -> x * mask, mask: [B, ...] of 0 and 1 / (1 - rate), drawn per call
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let x = *single("dropout", inputs)?;
        let mask = masks.first().copied().flatten().cloned();
        self.stream.seed("Dropout")?;
        if !training || self.rate == 0.0 {
            return Ok(Forward::one(x.clone(), mask).saving(training, || None::<Tensor>));
        }
        let (seed, counter) = self.stream.next("Dropout")?;
        let keep = dropout_mask(x.device(), x.shape().clone(), self.rate, seed, counter)?;
        let y = dropout_apply(x, &keep)?;
        Ok(Forward::one(y, mask).saving(training, || Some(keep)))
    }

    // dx = dy * mask (the forward's mask, already scaled)
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let keep: &Option<Tensor> = saved.get("dropout")?;
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
