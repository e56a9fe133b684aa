//! `Normalization`: Keras's preprocessing layer that standardises each feature with a mean
//! and variance learned by `adapt` (or given), inside the model and saved with it. Forward and
//! backward side by side; the kernels are `ops::normalization`.
//!
//! Weights as Keras's, all non-trainable ([`Layer::state`]): mean `[F]`, variance `[F]`
//! (scalars `[]` over all values with `axis(None)`), count `[]` (kept at 0, as Keras keeps it).

use ndarray::{ArrayBase, ArrayView2, AsArray, Data, Dimension, Ix2};
use rand::rngs::StdRng;

use super::{Backward, Dims, Forward, Layer, LayerConfig, Param, Saved, single, single_dims};
use crate::device::Device;
use crate::error::{Error, Result, fmt_dims};
use crate::ops::normalization::{normalization_backward, normalization_forward};
use crate::tensor::Tensor;

/// Standardises its input per feature, as Keras's `Normalization(axis=-1, invert=False)`:
/// `(x - mean) / max(sqrt(variance), 1e-7)`, with the mean and variance that
/// [`adapt`](Normalization::adapt) computes from data (or that
/// [`mean_variance`](Normalization::mean_variance) gives). Masks pass through, so it can sit
/// between a [`Masking`](crate::layers::Masking) layer and an RNN; nothing in it trains.
///
/// Variable-length sequences: [`adapt_sequences`](Normalization::adapt_sequences) takes the
/// sequences before padding, so the statistics cover real steps only, never the padding.
/// Adapt before adding the layer to a model. Without `adapt` or given values the mean is 0
/// and the variance 1 (an identity), as in Keras.
///
/// ```
/// use ndarray::array;
/// use wgfit::prelude::*;
/// let x = array![[1.0f32, 10.0], [3.0, 30.0]];
/// let mut norm = Normalization::new();
/// norm.adapt(&x)?;
/// assert_eq!(norm.mean(), Some(&[2.0f32, 20.0][..]));
/// assert_eq!(norm.variance(), Some(&[1.0f32, 100.0][..]));
/// let mut model = Sequential::new().add(norm.input_shape([Some(2)]));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(model.predict(&x)?, array![[-1.0f32, -1.0], [1.0, 1.0]].into_dyn());
/// assert_eq!(model.count_params(), 2 + 2 + 1); // mean, variance, count: none trainable
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Normalization {
    // Keras's axis: Some(-1) (per feature) or None (over all values)
    axis: Option<i32>,
    invert: bool,
    // (mean, variance) from adapt or mean_variance, on the host until build
    stats: Option<(Vec<f32>, Vec<f32>)>,
    input: Option<Dims>,
    // mean, variance, count once built
    state: Vec<Param>,
}

impl Default for Normalization {
    fn default() -> Self {
        Normalization::new()
    }
}

impl Normalization {
    /// A layer with one mean and variance per feature (the last axis, Keras's default
    /// `axis=-1`), not yet adapted.
    pub fn new() -> Self {
        Normalization {
            axis: Some(-1),
            invert: false,
            stats: None,
            input: None,
            state: Vec::new(),
        }
    }

    /// Which axis keeps its own statistics: `Some(-1)` (the default) or the index of the last
    /// axis of a sample with its batch axis (`Some(2)` for `[B, T, F]`), one mean and variance
    /// per feature; `None`, one mean and variance over all values (Keras's `axis=None`).
    /// Another axis is an [`Error::Config`] when the layer is built (not supported yet).
    #[must_use]
    pub fn axis(mut self, axis: Option<i32>) -> Self {
        self.axis = axis;
        self
    }

    /// Applies the inverse, `mean + x * max(sqrt(variance), 1e-7)` (Keras's `invert=True`):
    /// turns a model's standardised outputs back into the data's units.
    #[must_use]
    pub fn invert(mut self, on: bool) -> Self {
        self.invert = on;
        self
    }

    /// Uses these statistics instead of adapting (Keras's `mean=`, `variance=`): one value
    /// per feature, or one for all with `axis(None)`.
    #[must_use]
    pub fn mean_variance(mut self, mean: Vec<f32>, variance: Vec<f32>) -> Self {
        self.stats = Some((mean, variance));
        self
    }

    /// The per-sample input shape when this is the first layer (`[F]`, or `[None, Some(F)]`
    /// for sequences of any length).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    /// The mean in use, once adapted or given.
    pub fn mean(&self) -> Option<&[f32]> {
        self.stats.as_ref().map(|(m, _)| &m[..])
    }

    /// The variance in use, once adapted or given.
    pub fn variance(&self) -> Option<&[f32]> {
        self.stats.as_ref().map(|(_, v)| &v[..])
    }

    /// Learns the mean and (population) variance of `data` per feature (its last axis), or
    /// over all values with `axis(None)`, as Keras's `adapt` on an array: every value counts,
    /// padding included, so pass variable-length sequences to
    /// [`adapt_sequences`](Normalization::adapt_sequences) instead.
    ///
    /// Errors: [`Error::Empty`] for no values, [`Error::Data`] naming the first value that
    /// is not finite, [`Error::Shape`] when the layer is built for another feature count.
    pub fn adapt<S: Data<Elem = f32>, D: Dimension>(
        &mut self,
        data: &ArrayBase<S, D>,
    ) -> Result<()> {
        let cols = if self.axis.is_some() {
            data.shape().last().copied().unwrap_or(1)
        } else {
            1
        };
        let values: Vec<f32> = data.iter().copied().collect();
        self.set_stats(moments(std::iter::once(&values[..]), cols)?)
    }

    /// Learns the mean and variance from sequences of different lengths (each `[T_i, F]`,
    /// before padding), over every step of every sequence: the statistics of the unmasked
    /// steps of the padded batches the model will see. Keras gets the same by adapting on
    /// the sequences one batch each.
    ///
    /// ```
    /// use ndarray::array;
    /// use wgfit::prelude::*;
    /// let short = array![[1.0f32], [3.0]];
    /// let long = array![[5.0f32], [7.0], [9.0]];
    /// let mut norm = Normalization::new();
    /// norm.adapt_sequences([&short, &long])?;
    /// assert_eq!(norm.mean(), Some(&[5.0f32][..])); // (1 + 3 + 5 + 7 + 9) / 5
    /// assert_eq!(norm.variance(), Some(&[8.0f32][..]));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn adapt_sequences<'a, V: AsArray<'a, f32, Ix2>>(
        &mut self,
        sequences: impl IntoIterator<Item = V>,
    ) -> Result<()> {
        let views: Vec<ArrayView2<'a, f32>> = sequences.into_iter().map(Into::into).collect();
        let features = views.first().map_or(1, |v| v.ncols());
        if let Some((i, v)) = views
            .iter()
            .enumerate()
            .find(|(_, v)| v.ncols() != features)
        {
            return Err(Error::Data(format!(
                "Normalization.adapt_sequences: sequence {i} has {} features where sequence 0 \
                 has {features}",
                v.ncols()
            )));
        }
        let cols = if self.axis.is_some() { features } else { 1 };
        let owned: Vec<Vec<f32>> = views.iter().map(|v| v.iter().copied().collect()).collect();
        self.set_stats(moments(owned.iter().map(|v| &v[..]), cols)?)
    }

    /// Keeps the statistics, and writes them into the weights when the layer is built.
    fn set_stats(&mut self, (mean, variance): (Vec<f32>, Vec<f32>)) -> Result<()> {
        if let [m, v, _] = &self.state[..] {
            if m.value.numel() != mean.len() {
                return Err(crate::ops::shape_error(
                    "normalization",
                    &[Some(m.value.numel())],
                    &[mean.len()],
                    "adapt on data of the feature count the layer was built for",
                ));
            }
            m.value.write_from_slice(&mean)?;
            v.value.write_from_slice(&variance)?;
        }
        self.stats = Some((mean, variance));
        Ok(())
    }
}

/// The mean and population variance of each of `cols` columns over chunks of row-major
/// values (each chunk whole rows), in f64 and rounded once.
fn moments<'a>(
    chunks: impl Iterator<Item = &'a [f32]> + Clone,
    cols: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let cols = cols.max(1);
    let mut n = 0usize;
    let mut sum = vec![0.0f64; cols];
    for chunk in chunks.clone() {
        for (i, &v) in chunk.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::Data(format!(
                    "Normalization.adapt: value {} of the data is {v}; only finite values can \
                     be adapted on",
                    n + i
                )));
            }
            sum[i % cols] += f64::from(v);
        }
        n += chunk.len();
    }
    let rows = n / cols;
    if rows == 0 {
        return Err(Error::Empty {
            what: "data to adapt a Normalization layer on".into(),
            sample: None,
        });
    }
    let mean: Vec<f64> = sum.iter().map(|s| s / rows as f64).collect();
    let mut sq = vec![0.0f64; cols];
    for chunk in chunks {
        for (i, &v) in chunk.iter().enumerate() {
            let d = f64::from(v) - mean[i % cols];
            sq[i % cols] += d * d;
        }
    }
    Ok((
        mean.iter().map(|&m| m as f32).collect(),
        sq.iter().map(|&s| (s / rows as f64) as f32).collect(),
    ))
}

impl Normalization {
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        let axis = match c.int_or_null("axis")? {
            None => None,
            Some(a) => Some(i32::try_from(a).map_err(|_| {
                Error::Config(format!("Normalization config: axis {a} is out of range"))
            })?),
        };
        Ok(Normalization::new().axis(axis).invert(c.flag("invert")?))
    }
}

impl Layer for Normalization {
    fn kind(&self) -> &'static str {
        "normalization"
    }

    // The statistics are the layer's state (weights), saved with them.
    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("Normalization")
            .with("axis", self.axis)
            .with("invert", self.invert))
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [F] samples, or [T, F] of any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        if sample.len() >= 2 {
            super::any_length(sample)
        } else {
            sample.iter().map(|&d| Some(d)).collect()
        }
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], _rng: &mut StdRng) -> Result<Vec<Dims>> {
        let input = single_dims("normalization", inputs)?;
        let rank = input.len() as i32 + 1; // with the batch axis
        if let Some(a) = self.axis
            && a != -1
            && a != rank - 1
        {
            return Err(Error::Config(format!(
                "Normalization takes axis -1 (the features), {} (the same here) or None; axis \
                 {a} is not supported yet (input {})",
                rank - 1,
                fmt_dims(input)
            )));
        }
        let features = match (self.axis.is_some(), input.last()) {
            (false, _) => 1,
            (true, Some(Some(f))) => *f,
            (true, _) => {
                return Err(Error::Config(format!(
                    "Normalization needs its feature count (the last dim) known, got {}",
                    fmt_dims(input)
                )));
            }
        };
        let (mean, variance) = self
            .stats
            .clone()
            .unwrap_or_else(|| (vec![0.0; features], vec![1.0; features]));
        if mean.len() != features || variance.len() != features {
            return Err(Error::Config(format!(
                "Normalization was adapted on (or given) {} mean and {} variance values, but its \
                 input {} has {features} feature{}",
                mean.len(),
                variance.len(),
                fmt_dims(input),
                if features == 1 { "" } else { "s" }
            )));
        }
        let dims = if self.axis.is_some() {
            vec![features]
        } else {
            vec![]
        };
        self.state = vec![
            Param::new("mean", Tensor::from_vec(device, dims.clone(), mean)?),
            Param::new("variance", Tensor::from_vec(device, dims, variance)?),
            Param::new("count", Tensor::from_vec(device, [], vec![0.0])?),
        ];
        Ok(vec![input.clone()])
    }

    fn state(&self) -> Vec<&Param> {
        self.state.iter().collect()
    }

    fn state_mut(&mut self) -> Vec<&mut Param> {
        self.state.iter_mut().collect()
    }

    // x: [B, ..., F] -> (x - mean) / max(sqrt(variance), 1e-7), the mask passed on
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        _training: bool,
    ) -> Result<Forward> {
        let x = single("normalization", inputs)?;
        let [mean, variance, _] = &self.state[..] else {
            return Err(Error::Config(
                "Normalization used before it was built (compile the model first)".into(),
            ));
        };
        let y = normalization_forward(x, &mean.value, &variance.value, self.invert)?;
        Ok(Forward::one(y, masks.first().copied().flatten().cloned()))
    }

    // dx = dy / max(sqrt(variance), 1e-7) (dy times it with invert); nothing trains
    fn backward(&self, _saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let [_, variance, _] = &self.state[..] else {
            return Err(Error::Config(
                "Normalization used before it was built".into(),
            ));
        };
        let dx = need_dx[0]
            .then(|| normalization_backward(&dy[0], &variance.value, self.invert))
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
}
