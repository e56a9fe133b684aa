//! `Dense`: y = act(x · kernel + bias), on the last axis; forward and backward side by side.

use rand::rngs::StdRng;

use super::{
    Backward, Dims, Forward, Layer, LayerConfig, Param, Saved, positive, single, single_dims,
};
use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::bias_act::bias_act_backward;
use crate::ops::matmul::{Transpose, matmul, matmul_bias_act};
use crate::ops::reduce::sum;
use crate::ops::softmax::{softmax, softmax_backward};
use crate::tensor::Tensor;

/// A fully connected layer, as Keras's `Dense(units, activation=..., use_bias=...)`:
/// `y = activation(x · kernel + bias)` on the last axis, `x: [B, ..., in]` ->
/// `y: [B, ..., units]` (leading axes, such as a sequence's time axis, pass through).
///
/// Weights (Keras's layout): `kernel: [in, units]` (Glorot uniform), `bias: [units]` (zeros),
/// named `layers.{i}.dense.kernel` / `.bias` in weights files. A mask from the layer before
/// passes through unchanged.
///
/// ```
/// use wgfit::prelude::*;
/// let mut model = Sequential::new()
///     .add(Dense::new(8).activation(Activation::Relu).input_shape([4]))
///     .add(Dense::new(2).use_bias(false));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(model.count_params(), 4 * 8 + 8 + 8 * 2);
/// let y = model.predict(&ndarray::Array2::<f32>::zeros((5, 4)))?;
/// assert_eq!(y.shape(), &[5, 2]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dense {
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    input: Option<Dims>,
    kernel: Option<Param>,
    bias: Option<Param>,
}

#[derive(Debug, Clone)]
struct Cache {
    x: Tensor, // [N, in]
    y: Tensor, // [N, units]
    in_dims: Vec<usize>,
}

impl Dense {
    /// `units` outputs, linear activation, with bias; Keras's initializers (Glorot uniform
    /// kernel, zero bias).
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            input: None,
            kernel: None,
            bias: None,
        }
    }

    /// The activation applied to the output (Keras's `activation=`; default linear).
    #[must_use]
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether the layer adds a bias (Keras's `use_bias=`; default true).
    #[must_use]
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// How the kernel's initial values are drawn (Keras's `kernel_initializer=`; default
    /// [`Initializer::GlorotUniform`]).
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// use wgfit::Initializer;
    /// let mut model = Sequential::new().add(Dense::new(2).kernel_initializer(Initializer::Zeros).input_shape([3]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let weights = model.get_weights()?;
    /// assert_eq!(weights[0].0, "layers.0.dense.kernel");
    /// assert!(weights[0].1.iter().all(|&v| v == 0.0));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    #[must_use]
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
        self
    }

    /// How the bias's initial values are drawn (Keras's `bias_initializer=`; default
    /// [`Initializer::Zeros`]).
    #[must_use]
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.bias_initializer = init;
        self
    }

    /// The per-sample input shape, when this is the model's first layer (Keras's
    /// `input_shape=(4,)`): the model's weights are then created at `compile`.
    #[must_use]
    pub fn input_shape<const N: usize>(mut self, dims: [usize; N]) -> Self {
        self.input = Some(dims.iter().map(|&d| Some(d)).collect());
        self
    }

    fn kernel(&self) -> Result<&Tensor> {
        self.kernel.as_ref().map(|p| &p.value).ok_or_else(|| {
            Error::Config("Dense used before it was built (compile the model first)".into())
        })
    }

    fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref().map(|p| &p.value)
    }
}

impl Dense {
    // Keras's Dense config; initializers are left out: a loaded layer has its weights.
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        Ok(Dense::new(c.size("units")?)
            .activation(c.activation("activation")?)
            .use_bias(c.flag("use_bias")?))
    }
}

impl Layer for Dense {
    fn kind(&self) -> &'static str {
        "dense"
    }

    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("Dense")
            .with("units", self.units)
            .with("activation", self.activation.name())
            .with("use_bias", self.use_bias))
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone()
    }

    // Dense acts on the last axis: leading dims may be anything.
    fn input_template(&self, sample: &[usize]) -> Dims {
        let mut dims = vec![None; sample.len()];
        if let (Some(last), Some(&n)) = (dims.last_mut(), sample.last()) {
            *last = Some(n);
        }
        dims
    }

    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let units = positive("Dense units", self.units)?;
        let input = single_dims("dense", inputs)?;
        let Some(&Some(fan_in)) = input.last() else {
            return Err(Error::Config(format!(
                "Dense needs a known last input dim, got {}",
                crate::error::fmt_dims(input)
            )));
        };
        let named = |role: &str, e: Error| match e {
            Error::Config(m) => Error::Config(format!("Dense({units}) {role}: {m}")),
            other => other,
        };
        let kernel = self
            .kernel_initializer
            .sample(&[fan_in, units], rng)
            .map_err(|e| named("kernel_initializer", e))?;
        self.kernel = Some(Param::new(
            "kernel",
            Tensor::from_vec(device, [fan_in, units], kernel)?,
        ));
        self.bias = if self.use_bias {
            let bias = self
                .bias_initializer
                .sample(&[units], rng)
                .map_err(|e| named("bias_initializer", e))?;
            Some(Param::new("bias", Tensor::from_vec(device, [units], bias)?))
        } else {
            None
        };
        let mut out = input.to_vec();
        *out.last_mut().expect("checked non-empty") = Some(units);
        Ok(vec![out])
    }

    fn params(&self) -> Vec<&Param> {
        self.kernel.iter().chain(self.bias.iter()).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    fn split_activation(&mut self) -> Option<Activation> {
        matches!(self.activation, Activation::Softmax | Activation::Sigmoid)
            .then(|| std::mem::replace(&mut self.activation, Activation::Linear))
    }

    // x: [B, ..., in] seen as [N, in]; z = x · kernel + bias: [N, units]; y = act(z)
    // (the bias and an elementwise activation ride in the matmul's dispatch)
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let x = *single("dense", inputs)?;
        let kernel = self.kernel()?;
        let fan_in = kernel.dims()[0];
        let in_dims = x.dims().to_vec();
        let n = x.numel().checked_div(fan_in).unwrap_or(0);
        let x2 = x.reshape([n, fan_in])?;
        let bias = self.bias();
        let y = match self.activation {
            Activation::Softmax => softmax(&matmul_bias_act(
                &x2,
                kernel,
                Transpose::None,
                bias,
                Activation::Linear,
            )?)?,
            act => matmul_bias_act(&x2, kernel, Transpose::None, bias, act)?,
        };
        let mut out_dims = in_dims.clone();
        *out_dims.last_mut().expect("x has a last axis") = self.units;
        Ok(Forward::one(
            y.reshape(out_dims)?,
            masks.first().copied().flatten().cloned(),
        )
        .saving(training, || Cache { x: x2, y, in_dims }))
    }

    // dz = dy * act'(y) (softmax: y (dy - sum(dy y))); dkernel = xᵀ · dz, dbias = Σ_rows dz,
    // dx = dz · kernelᵀ
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("dense")?;
        let dy2 = dy[0].reshape(cache.y.dims().to_vec())?;
        let dz = match self.activation {
            Activation::Linear => dy2,
            Activation::Softmax => softmax_backward(&cache.y, &dy2)?,
            act => bias_act_backward(&dy2, &cache.y, act)?,
        };
        let mut params = vec![matmul(&cache.x, &dz, Transpose::A)?];
        if self.bias.is_some() {
            params.push(sum(&dz, 0)?);
        }
        let dx = need_dx
            .first()
            .copied()
            .unwrap_or(false)
            .then(|| matmul(&dz, self.kernel()?, Transpose::B)?.reshape(cache.in_dims.clone()))
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params,
        })
    }
}
