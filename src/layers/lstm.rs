//! `Lstm`: Keras's `LSTM(units, return_sequences=...)` over `[B, T, F]` sequences of any T,
//! consuming the mask of the layers before it. Forward and backward side by side.
//!
//! Weights as Keras: kernel `[F, 4U]` (glorot_uniform), recurrent_kernel `[U, 4U]` (orthogonal),
//! bias `[4U]` (zeros, forget gate 1); gates i, f, c, o; tanh and sigmoid activations.

use rand::rngs::StdRng;

use super::{
    Backward, Dims, Forward, Layer, MaskFlow, Param, Saved, positive, single, single_dims,
};
use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::gather::gather_rows;
use crate::ops::lstm_cell::{LstmKernel, LstmStates, lstm_backward_with, lstm_forward_with};
use crate::ops::matmul::{Transpose, matmul, matmul_bias_act};
use crate::ops::reduce::sum;
use crate::tensor::Tensor;

/// A long short-term memory layer, as Keras's `LSTM(units, return_sequences=...)`:
/// `x: [B, T, F]` (any `T`) -> the last state `[B, units]`, or every step's output
/// `[B, T, units]` with `return_sequences`.
///
/// Masked steps (from [`Masking`](crate::layers::Masking) or
/// [`Embedding::mask_zero`](crate::layers::Embedding::mask_zero)) are skipped: the state is
/// carried over them. Weights as Keras's: `kernel: [F, 4·units]`,
/// `recurrent_kernel: [units, 4·units]`, `bias: [4·units]` (gates i, f, c, o). A batch that
/// is not `[B, T, F]` is an [`Error::Shape`]; one with `T = 0`, [`Error::Empty`].
///
/// ```
/// use wgfit::prelude::*;
/// let x = ndarray::Array3::<f32>::zeros((2, 7, 3)); // 2 sequences, 7 steps, 3 features
/// let mut last = Sequential::new().add(Lstm::new(4).input_shape([None, Some(3)]));
/// last.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(last.predict(&x)?.shape(), &[2, 4]);           // the last state
/// assert_eq!(last.count_params(), 3 * 16 + 4 * 16 + 16);
/// let mut seq = Sequential::new().add(Lstm::new(4).return_sequences(true).input_shape([None, Some(3)]));
/// seq.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(seq.predict(&x)?.shape(), &[2, 7, 4]);         // every step
/// # Ok::<(), wgfit::Error>(())
/// ```
#[doc(alias = "LSTM")]
#[derive(Debug, Clone)]
pub struct Lstm {
    units: usize,
    return_sequences: bool,
    input: Option<Dims>,
    kernel: Option<Param>,
    recurrent: Option<Param>,
    bias: Option<Param>,
    lstm_kernel: LstmKernel,
}

#[derive(Debug, Clone)]
struct Cache {
    x: Tensor, // [B*T, F]
    states: LstmStates,
    mask: Option<Tensor>,
    in_dims: Vec<usize>,
}

impl Lstm {
    /// An LSTM of `units` units (Keras's defaults: tanh and sigmoid activations, Glorot
    /// uniform kernel, orthogonal recurrent kernel, unit forget bias), returning the last state.
    pub fn new(units: usize) -> Self {
        Lstm {
            units,
            return_sequences: false,
            input: None,
            kernel: None,
            recurrent: None,
            bias: None,
            lstm_kernel: LstmKernel::Auto,
        }
    }

    /// Output every step's h `[B, T, units]` instead of the last state `[B, units]` (Keras's
    /// `return_sequences=True`, for stacking LSTMs or a per-step output); the mask passes on.
    #[must_use]
    pub fn return_sequences(mut self, on: bool) -> Self {
        self.return_sequences = on;
        self
    }

    /// Which GPU kernels run this layer's forward and backward passes: per-step dispatches,
    /// the persistent kernels (units <= 256), or (the default) [`LstmKernel::Auto`], the op's
    /// choice by the adapter's type and the units. The CPU reference ignores it. Benchmarks
    /// set it to compare the two on one GPU.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// use wgfit::ops::lstm_cell::LstmKernel;
    /// let x = ndarray::Array3::<f32>::ones((2, 5, 3));
    /// let mut outputs = Vec::new();
    /// for kernel in [LstmKernel::Auto, LstmKernel::PerStep, LstmKernel::Persistent] {
    ///     let mut m = Sequential::new().seed(7).add(Lstm::new(4).kernel(kernel).input_shape([None, Some(3)]));
    ///     m.compile(&Device::auto()?, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    ///     outputs.push(m.predict(&x)?);
    /// }
    /// // The same states whichever kernels ran (to rounding on a GPU).
    /// for out in &outputs[1..] {
    ///     assert!(out.iter().zip(&outputs[0]).all(|(a, b)| (a - b).abs() < 1e-5));
    /// }
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn kernel(mut self, kernel: LstmKernel) -> Self {
        self.lstm_kernel = kernel;
        self
    }

    /// The per-sample input shape when this is the first layer, e.g. `[None, Some(10)]` for
    /// any length of 10 features (Keras's `input_shape=(None, 10)`).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    fn weights(&self) -> Result<(&Tensor, &Tensor, &Tensor)> {
        match (&self.kernel, &self.recurrent, &self.bias) {
            (Some(k), Some(r), Some(b)) => Ok((&k.value, &r.value, &b.value)),
            _ => Err(Error::Config(
                "LSTM used before it was built (compile the model first)".into(),
            )),
        }
    }
}

impl Layer for Lstm {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Reads {
            keeps: self.return_sequences,
        }
    }

    fn kind(&self) -> &'static str {
        "lstm"
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // [T, F] with any T.
    fn input_template(&self, sample: &[usize]) -> Dims {
        super::any_length(sample)
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let u = positive("LSTM units", self.units)?;
        let input = single_dims("lstm", inputs)?;
        let [time, Some(features)] = input[..] else {
            return Err(Error::Config(format!(
                "LSTM takes [T, F] samples with F known, got {}",
                crate::error::fmt_dims(input)
            )));
        };
        let kernel = Initializer::GlorotUniform.sample(&[features, 4 * u], rng)?;
        let recurrent = Initializer::Orthogonal.sample(&[u, 4 * u], rng)?;
        let mut bias = vec![0.0; 4 * u];
        // unit_forget_bias: the forget gate starts open.
        bias[u..2 * u].fill(1.0);
        self.kernel = Some(Param::new(
            "kernel",
            Tensor::from_vec(device, [features, 4 * u], kernel)?,
        ));
        self.recurrent = Some(Param::new(
            "recurrent_kernel",
            Tensor::from_vec(device, [u, 4 * u], recurrent)?,
        ));
        self.bias = Some(Param::new("bias", Tensor::from_vec(device, [4 * u], bias)?));
        Ok(vec![if self.return_sequences {
            vec![time, Some(u)]
        } else {
            vec![Some(u)]
        }])
    }

    fn params(&self) -> Vec<&Param> {
        self.kernel
            .iter()
            .chain(&self.recurrent)
            .chain(&self.bias)
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.kernel
            .iter_mut()
            .chain(self.recurrent.iter_mut())
            .chain(self.bias.iter_mut())
            .collect()
    }

    // x: [B, T, F]; xp = x · kernel + bias: [B, T, 4U]; the cell runs over T steps;
    // out = h at every step [B, T, U], or the last state [B, U] (the state at the last
    // unmasked step, since masked steps carry it)
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let x = *single("lstm", inputs)?;
        let mask = masks.first().copied().flatten();
        let (kernel, recurrent, bias) = self.weights()?;
        let &[b, t, f] = x.dims() else {
            return Err(crate::ops::shape_error(
                "lstm",
                &[None, None, Some(kernel.dims()[0])],
                x.dims(),
                "LSTM takes [B, T, F] batches",
            ));
        };
        if t == 0 {
            return Err(Error::Empty {
                what: "an LSTM batch of sequences of length 0".into(),
                sample: None,
            });
        }
        let x2 = x.reshape([b * t, f])?;
        // x · kernel + bias in one op (one dispatch on a GPU, no extra copy on the CPU)
        let xp = matmul_bias_act(&x2, kernel, Transpose::None, Some(bias), Activation::Linear)?;
        let xp = xp.reshape([b, t, 4 * self.units])?;
        let states = lstm_forward_with(&xp, recurrent, mask, self.lstm_kernel)?;
        let (out, out_mask) = if self.return_sequences {
            (states.hseq.clone(), mask.cloned())
        } else {
            let last: Vec<u32> = (0..b).map(|i| (i * t + t - 1) as u32).collect();
            let idx = Tensor::from_u32(x.device(), [b], last)?;
            (
                gather_rows(&states.hseq.reshape([b * t, self.units])?, &idx)?,
                None,
            )
        };
        Ok(Forward::one(out, out_mask).saving(training, || Cache {
            x: x2,
            states,
            mask: mask.cloned(),
            in_dims: vec![b, t, f],
        }))
    }

    // dz = BPTT(dy) [B*T, 4U]; dkernel = xᵀ dz, drecurrent = hprevᵀ dz, dbias = Σ dz,
    // dx = dz kernelᵀ
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("lstm")?;
        let (kernel, recurrent, _) = self.weights()?;
        let (b, t) = (cache.in_dims[0], cache.in_dims[1]);
        let u = self.units;
        let (dh_last, dy_seq) = if self.return_sequences {
            (None, Some(&dy[0]))
        } else {
            (Some(&dy[0]), None)
        };
        let dz = lstm_backward_with(
            &cache.states,
            recurrent,
            cache.mask.as_ref(),
            dh_last,
            dy_seq,
            self.lstm_kernel,
        )?
        .reshape([b * t, 4 * u])?;
        let hprev = cache.states.hprev.reshape([b * t, u])?;
        let (x, hprev, dz_kept) = match kept_rows(cache.mask.as_ref())? {
            Some(idx) => (
                gather_rows(&cache.x, &idx)?,
                gather_rows(&hprev, &idx)?,
                gather_rows(&dz, &idx)?,
            ),
            None => (cache.x.clone(), hprev, dz.clone()),
        };
        let params = vec![
            matmul(&x, &dz_kept, Transpose::A)?,
            matmul(&hprev, &dz_kept, Transpose::A)?,
            sum(&dz_kept, 0)?,
        ];
        let dx = need_dx[0]
            .then(|| matmul(&dz, kernel, Transpose::B)?.reshape(cache.in_dims.clone()))
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params,
        })
    }
}

impl super::Recurrent for Lstm {
    fn returns_sequences(&self) -> bool {
        self.return_sequences
    }
}

fn kept_rows(mask: Option<&Tensor>) -> Result<Option<Tensor>> {
    let Some(mask) = mask.filter(|m| matches!(m.device(), Device::Cpu)) else {
        return Ok(None);
    };
    let kept: Vec<u32> = (0u32..)
        .zip(mask.to_vec_blocking()?)
        .filter_map(|(i, m)| (m != 0.0).then_some(i))
        .collect();
    if kept.is_empty() || kept.len() == mask.numel() {
        return Ok(None);
    }
    Ok(Some(Tensor::from_u32(mask.device(), [kept.len()], kept)?))
}
