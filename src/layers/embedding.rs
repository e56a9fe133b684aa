//! `Embedding`: token ids `[B, T]` -> vectors `[B, T, D]`, as Keras's
//! `Embedding(input_dim, output_dim, mask_zero=...)`. Ids arrive as a u32 tensor checked
//! where the batch was made (never an out-of-bounds read on the GPU); the gradient sums each
//! token's positions in a fixed order.

use rand::rngs::StdRng;

use super::{
    Accepts, Backward, Dims, Forward, Layer, LayerConfig, MaskFlow, Param, Saved, positive, single,
    single_dims,
};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::embedding::embedding_backward;
use crate::ops::gather::gather_rows;
use crate::tensor::{DType, Tensor};

/// A lookup table of `input_dim` vectors of `output_dim` values, as Keras's
/// `Embedding(input_dim, output_dim, mask_zero=..., input_length=...)`: token ids
/// `x: [B, T]` (integers stored as f32) -> `[B, T, output_dim]`.
///
/// It works wherever an [`Input`](crate::Input) feeds it ids (first in a `Sequential`, or in a
/// branch of a graph model). An id that is not an integer in `0..input_dim` is an
/// [`Error::Token`] naming the batch, sample and step, found before any step runs. The
/// table `embeddings: [input_dim, output_dim]` starts uniform in ±0.05, as Keras's.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new()
///     .add(Embedding::new(10, 3).input_length(4))
///     .add(Lstm::new(5));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// let ids = ndarray::arr2(&[[1.0f32, 2.0, 3.0, 0.0], [4.0, 5.0, 0.0, 0.0]]);
/// assert_eq!(model.predict(&ids)?.shape(), &[2, 5]);
/// let bad = ndarray::arr2(&[[1.0f32, 2.0, 10.0, 0.0]]); // 10 is not in 0..10
/// assert!(matches!(model.predict(&bad), Err(Error::Token { step: 2, vocab: 10, .. })));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embedding {
    input_dim: usize,
    output_dim: usize,
    mask_zero: bool,
    input_length: Option<usize>,
    embeddings: Option<Param>,
}

impl Embedding {
    /// `input_dim` tokens (ids `0..input_dim`) of `output_dim` values each.
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        Embedding {
            input_dim,
            output_dim,
            mask_zero: false,
            input_length: None,
            embeddings: None,
        }
    }

    /// Treat id 0 as padding (Keras's `mask_zero=True`): its steps are masked for the layers
    /// downstream, so an [`Lstm`](crate::layers::Lstm) skips them (default off).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Embedding::new(10, 3).mask_zero(true)).add(Lstm::new(2));
    /// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    /// // Post-padding with 0 does not change an LSTM's last state.
    /// let padded = model.predict(&ndarray::arr2(&[[3.0f32, 7.0, 0.0, 0.0]]))?;
    /// let short = model.predict(&ndarray::arr2(&[[3.0f32, 7.0]]))?;
    /// assert!(padded.iter().zip(short.iter()).all(|(a, b)| (a - b).abs() < 1e-6));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn mask_zero(mut self, on: bool) -> Self {
        self.mask_zero = on;
        self
    }

    /// A fixed sequence length (Keras's `input_length`): the model's weights are then created
    /// at `compile`, and a batch of another length is an [`Error::Shape`]. Without it any
    /// length is accepted.
    #[must_use]
    pub fn input_length(mut self, steps: usize) -> Self {
        self.input_length = Some(steps);
        self
    }
}

impl Embedding {
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        Ok(Embedding {
            input_length: c.size_or_null("input_length")?,
            ..Embedding::new(c.size("input_dim")?, c.size("output_dim")?)
                .mask_zero(c.flag("mask_zero")?)
        })
    }
}

impl Layer for Embedding {
    fn mask_flow(&self) -> MaskFlow {
        if self.mask_zero {
            MaskFlow::Makes { ops: 1 }
        } else {
            MaskFlow::Drops
        }
    }

    fn kind(&self) -> &'static str {
        "embedding"
    }

    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("Embedding")
            .with("input_dim", self.input_dim)
            .with("output_dim", self.output_dim)
            .with("mask_zero", self.mask_zero)
            .with("input_length", self.input_length))
    }

    fn declared_input(&self) -> Option<Dims> {
        Some(vec![self.input_length])
    }

    fn input_template(&self, _sample: &[usize]) -> Dims {
        vec![self.input_length]
    }

    fn accepts(&self) -> Accepts {
        Accepts::Ids {
            vocab: self.input_dim,
        }
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let v = positive("Embedding input_dim (the vocabulary size)", self.input_dim)?;
        let d = positive("Embedding output_dim", self.output_dim)?;
        let input = single_dims("embedding", inputs)?;
        if input.len() != 1 {
            return Err(Error::Config(format!(
                "Embedding takes [T] token ids per sample, got {}",
                crate::error::fmt_dims(input)
            )));
        }
        let table = Initializer::Uniform {
            min: -0.05,
            max: 0.05,
        }
        .sample(&[v, d], rng)?;
        self.embeddings = Some(Param::new(
            "embeddings",
            Tensor::from_vec(device, [v, d], table)?,
        ));
        Ok(vec![vec![input[0], Some(d)]])
    }

    fn params(&self) -> Vec<&Param> {
        self.embeddings.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.embeddings.iter_mut().collect()
    }

    // ids: [B, T] (u32, checked below the vocabulary where the batch was made)
    // -> out[b, t] = embeddings[ids[b, t]]: [B, T, D]; mask = ids != 0 (mask_zero)
    fn forward(
        &self,
        inputs: &[&Tensor],
        _masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let ids = *single("embedding", inputs)?;
        let table = &self
            .embeddings
            .as_ref()
            .ok_or_else(|| Error::Config("Embedding used before it was built".into()))?
            .value;
        let &[b, t] = ids.dims() else {
            return Err(crate::ops::shape_error(
                "embedding",
                &[None, None],
                ids.dims(),
                "Embedding takes [B, T] token ids",
            ));
        };
        if ids.dtype() != DType::U32 {
            return Err(Error::Config(
                "Embedding takes token ids as a u32 tensor: feed it from an Input (the model \
                 turns the ids into u32 where batches are made)"
                    .into(),
            ));
        }
        let flat = ids.reshape([b * t])?;
        let out = gather_rows(table, &flat)?.reshape([b, t, self.output_dim])?;
        let mask = if self.mask_zero {
            let m: Vec<f32> = flat
                .host_u32()?
                .iter()
                .map(|&id| f32::from(u8::from(id != 0)))
                .collect();
            Some(Tensor::from_vec(ids.device(), [b, t], m)?)
        } else {
            None
        };
        Ok(Forward::one(out, mask).saving(training, || flat))
    }

    // dembeddings[v] = Σ_{positions p with ids[p] = v} dy[p]; ids have no gradient
    fn backward(&self, saved: &Saved, dy: &[Tensor], _need_dx: &[bool]) -> Result<Backward> {
        let ids: &Tensor = saved.get("embedding")?;
        let grad = embedding_backward(
            &ids.host_u32()?,
            self.input_dim,
            &dy[0].reshape([ids.numel(), self.output_dim])?,
        )?;
        Ok(Backward {
            inputs: vec![None],
            params: vec![grad],
        })
    }
}
