//! `Embedding`: token ids `[B, T]` -> vectors `[B, T, D]`, as Keras's
//! `Embedding(input_dim, output_dim, mask_zero=...)`. Ids are checked on the host (never an
//! out-of-bounds read on the GPU); the gradient sums each token's positions in a fixed order.

use ndarray::ArrayViewD;
use rand::rngs::StdRng;

use super::{Dims, Layer, Param};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::embedding::embedding_backward;
use crate::ops::gather::gather_rows;
use crate::tensor::Tensor;

/// A lookup table of `input_dim` vectors of `output_dim` values, as Keras's
/// `Embedding(input_dim, output_dim, mask_zero=..., input_length=...)`: token ids
/// `x: [B, T]` (integers stored as f32) -> `[B, T, output_dim]`.
///
/// It must be the model's first layer (it reads the ids on the host). An id that is not an
/// integer in `0..input_dim` is an [`Error::Token`] naming the batch, sample and step. The
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
    /// The current batch's ids, from `observe_input`, and its `[B, T]`.
    ids: Option<(Vec<u32>, usize, usize)>,
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
            ids: None,
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

impl Layer for Embedding {
    fn kind(&self) -> &'static str {
        "embedding"
    }

    fn declared_input(&self) -> Option<Dims> {
        Some(vec![self.input_length])
    }

    fn input_template(&self, _sample: &[usize]) -> Dims {
        vec![self.input_length]
    }

    fn needs_host_input(&self) -> bool {
        true
    }

    // Checks every id (an integer in 0..input_dim) and keeps them for the lookup and gradient.
    fn observe_input(
        &mut self,
        x: &ArrayViewD<'_, f32>,
        batch: usize,
        samples: &[usize],
    ) -> Result<()> {
        let &[b, t] = x.shape() else {
            return Err(Error::Data(format!(
                "batch {batch}: Embedding takes [B, T] token ids, got {:?}",
                x.shape()
            )));
        };
        let mut ids = Vec::with_capacity(b * t);
        for (i, &v) in x.iter().enumerate() {
            if !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < self.input_dim) {
                let row = i / t.max(1);
                return Err(Error::Token {
                    batch: Some(batch),
                    sample: samples.get(row).copied().unwrap_or(row),
                    step: i % t.max(1),
                    id: v,
                    vocab: self.input_dim,
                });
            }
            ids.push(v as u32);
        }
        self.ids = Some((ids, b, t));
        Ok(())
    }

    fn build(
        &mut self,
        device: &Device,
        input: &[Option<usize>],
        rng: &mut StdRng,
    ) -> Result<Dims> {
        if input.len() != 1 {
            return Err(Error::Config(format!(
                "Embedding takes [T] token ids per sample, got {}",
                crate::error::fmt_dims(input)
            )));
        }
        let (v, d) = (self.input_dim, self.output_dim);
        let table = Initializer::Uniform {
            min: -0.05,
            max: 0.05,
        }
        .sample(&[v, d], rng)?;
        self.embeddings = Some(Param {
            role: "embeddings",
            value: Tensor::from_vec(device, [v, d], table)?,
            grad: None,
        });
        Ok(vec![input[0], Some(d)])
    }

    fn params(&self) -> Vec<&Param> {
        self.embeddings.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.embeddings.iter_mut().collect()
    }

    fn forward(&mut self, x: &Tensor, training: bool) -> Result<Tensor> {
        Ok(self.forward_masked(x, None, training)?.0)
    }

    // ids: [B, T] -> out[b, t] = embeddings[ids[b, t]]: [B, T, D]; mask = ids != 0 (mask_zero)
    fn forward_masked(
        &mut self,
        x: &Tensor,
        _mask: Option<&Tensor>,
        _training: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let table = &self
            .embeddings
            .as_ref()
            .ok_or_else(|| Error::Config("Embedding used before it was built".into()))?
            .value;
        let (ids, b, t) = self
            .ids
            .as_ref()
            .filter(|(_, b, t)| x.dims() == [*b, *t])
            .ok_or_else(|| Error::Config("Embedding must be the model's first layer (it reads the token ids on the host)".into()))?;
        let idx = Tensor::from_u32(x.device(), [ids.len()], ids.clone())?;
        let out = gather_rows(table, &idx)?.reshape([*b, *t, self.output_dim])?;
        let mask = if self.mask_zero {
            let m: Vec<f32> = ids.iter().map(|&id| f32::from(u8::from(id != 0))).collect();
            Some(Tensor::from_vec(x.device(), [*b, *t], m)?)
        } else {
            None
        };
        Ok((out, mask))
    }

    // dembeddings[v] = Σ_{positions p with ids[p] = v} dy[p]; ids have no gradient
    fn backward(&mut self, dy: &Tensor, _need_dx: bool) -> Result<Option<Tensor>> {
        let (ids, b, t) = self
            .ids
            .as_ref()
            .ok_or_else(|| Error::Config("Embedding backward before forward".into()))?;
        let grad = embedding_backward(ids, self.input_dim, &dy.reshape([b * t, self.output_dim])?)?;
        if let Some(p) = self.embeddings.as_mut() {
            p.grad = Some(grad);
        }
        Ok(None)
    }
}
