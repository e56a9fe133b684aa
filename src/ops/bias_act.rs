//! Bias add fused with an activation, forward and backward (`shaders/bias_act.wgsl`).
//!
//! forward:  x: `[R, C]`, bias: `[C]` or none -> y: `[R, C]`, y = act(x + bias)
//! backward: dy: `[R, C]`, y: `[R, C]` -> dx: `[R, C]`, dx = dy * act'(y) (the bias gradient is
//! the column sum of dx, `reduce::sum(dx, 0)`).

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::activation::Activation;
use crate::device::{Device, Kernel};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "bias_act",
    source: concat!(
        include_str!("../../shaders/math.wgsl"),
        include_str!("../../shaders/activation.wgsl"),
        include_str!("../../shaders/bias_act.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("bias_act_forward", 3), ("bias_act_backward", 3)],
    trusted: false,
};

params! {
    struct Params {
        rows: u32,
        cols: u32,
        act: u32,
        has_bias: u32,
    }
}

/// The kernels' code for an elementwise activation (`shaders/activation.wgsl`); `op` names
/// the caller in the error for softmax, which is not elementwise.
pub(crate) fn activation_code(op: &str, act: Activation) -> Result<u32> {
    Ok(match act {
        Activation::Linear => 0,
        Activation::Relu => 1,
        Activation::Sigmoid => 2,
        Activation::Tanh => 3,
        Activation::Softmax => {
            return Err(Error::Config(format!(
                "softmax is not elementwise: use ops::softmax for it, not {op}"
            )));
        }
    })
}

/// Rows and columns of a tensor seen as `[R, C]` (C the last dim).
fn rows_cols(dims: &[usize]) -> (usize, usize) {
    let cols = dims.last().copied().unwrap_or(1);
    let rows = dims
        .iter()
        .product::<usize>()
        .checked_div(cols)
        .unwrap_or(0);
    (rows, cols)
}

/// `y = act(x + bias)`, a Dense layer's output step; x: `[..., C]`, bias: `[C]` (or `None`)
/// -> y: x's shape.
///
/// `act` must be elementwise: [`Activation::Softmax`] is refused (use
/// [`softmax`](crate::ops::softmax::softmax)).
///
/// # Errors
/// [`Error::Shape`] when bias is not `[C]`; [`Error::Config`] for softmax;
/// [`Error::Data`] for tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Activation, Device, Error, Tensor};
/// use wgfit::ops::bias_act::bias_act_forward;
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [2, 2], vec![-1.0, 0.5, 2.0, -3.0])?;
/// let bias = Tensor::from_vec(&device, [2], vec![1.0, 0.0])?;
/// let y = bias_act_forward(&x, Some(&bias), Activation::Relu)?;
/// assert_eq!(y.to_vec_blocking()?, vec![0.0, 0.5, 3.0, 0.0]);
/// let bad = Tensor::from_vec(&device, [3], vec![0.0; 3])?;
/// assert!(matches!(bias_act_forward(&x, Some(&bad), Activation::Relu), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn bias_act_forward(x: &Tensor, bias: Option<&Tensor>, act: Activation) -> Result<Tensor> {
    let inputs: Vec<&Tensor> = std::iter::once(x).chain(bias).collect();
    let device = f32_device("bias_act", &inputs)?;
    let (rows, cols) = rows_cols(x.dims());
    if let Some(b) = bias
        && b.dims() != [cols]
    {
        return Err(shape_error(
            "bias_act",
            &[Some(cols)],
            b.dims(),
            "bias must have one value per column of x",
        ));
    }
    let act_code = activation_code("bias_act", act)?;
    match &device {
        Device::Cpu => {
            let b = bias.map(|b| host(b).f32().to_vec());
            let y = bias_act_forward_cpu(host(x).f32(), b.as_deref(), cols, act);
            Tensor::from_vec(&device, x.shape().clone(), y)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, x.shape())?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
                act: act_code,
                has_bias: bias.is_some() as u32,
            };
            let b = buf(bias.unwrap_or(x));
            ctx.dispatch(
                &KERNEL,
                "bias_act_forward",
                &[buf(x), b, &out],
                bytemuck::bytes_of(&params),
                groups(rows * cols),
            )?;
            Ok(gpu_tensor(&device, x.shape().clone(), out))
        }
    }
}

/// `dx = dy * act'(y)`, from the forward output `y` (the pre-activation is not needed);
/// dy, y: `[..., C]` -> dx of the same shape. The bias gradient is then
/// [`reduce::sum`](crate::ops::reduce::sum)`(dx, 0)` for a `[R, C]` dx.
///
/// # Errors
/// [`Error::Shape`] when dy's shape is not y's; [`Error::Config`] for softmax.
///
/// ```
/// use wgfit::{Activation, Device, Tensor};
/// use wgfit::ops::bias_act::{bias_act_backward, bias_act_forward};
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [1, 4], vec![-1.0, 0.5, 2.0, -3.0])?;
/// let y = bias_act_forward(&x, None, Activation::Relu)?;
/// let dy = Tensor::from_vec(&device, [1, 4], vec![1.0; 4])?;
/// let dx = bias_act_backward(&dy, &y, Activation::Relu)?;
/// assert_eq!(dx.to_vec_blocking()?, vec![0.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn bias_act_backward(dy: &Tensor, y: &Tensor, act: Activation) -> Result<Tensor> {
    let device = f32_device("bias_act_backward", &[dy, y])?;
    if dy.dims() != y.dims() {
        let expected: Vec<Option<usize>> = y.dims().iter().map(|&d| Some(d)).collect();
        return Err(shape_error(
            "bias_act_backward",
            &expected,
            dy.dims(),
            "dy must have the shape of y",
        ));
    }
    let (rows, cols) = rows_cols(y.dims());
    let act_code = activation_code("bias_act_backward", act)?;
    match &device {
        Device::Cpu => {
            let dx = bias_act_backward_cpu(host(dy).f32(), host(y).f32(), act);
            Tensor::from_vec(&device, y.shape().clone(), dx)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, y.shape())?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
                act: act_code,
                has_bias: 0,
            };
            ctx.dispatch(
                &KERNEL,
                "bias_act_backward",
                &[buf(dy), buf(y), &out],
                bytemuck::bytes_of(&params),
                groups(rows * cols),
            )?;
            Ok(gpu_tensor(&device, y.shape().clone(), out))
        }
    }
}

use crate::ops::fast_math::sigmoid_f32;
/// Cephes `tanhf`, the same formula as the kernel's (branch-free, in `fast_math`).
pub(crate) use crate::ops::fast_math::tanh_f32;

/// CPU twin of the derivative, from the activation's output.
pub(crate) fn derivative_cpu(y: f32, act: Activation) -> f32 {
    match act {
        Activation::Relu => f32::from(u8::from(y > 0.0)),
        Activation::Sigmoid => y * (1.0 - y),
        Activation::Tanh => 1.0 - y * y,
        Activation::Linear | Activation::Softmax => 1.0,
    }
}

fn bias_act_forward_cpu(x: &[f32], bias: Option<&[f32]>, cols: usize, act: Activation) -> Vec<f32> {
    let mut out = crate::device::cpu_pool::with_capacity(x.len());
    out.extend_from_slice(x);
    bias_act_in_place(&mut out, bias, cols, act);
    out
}

/// CPU twin of bias + activation over `[rows, cols]` in place, row by row, with the
/// activation's match outside the loop over a row so that the loop vectorises.
pub(crate) fn bias_act_in_place(x: &mut [f32], bias: Option<&[f32]>, cols: usize, act: Activation) {
    if cols == 0 {
        return;
    }
    for row in x.chunks_exact_mut(cols) {
        if let Some(bias) = bias {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
        match act {
            Activation::Relu => row.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Sigmoid => row.iter_mut().for_each(|v| *v = sigmoid_f32(*v)),
            Activation::Tanh => row.iter_mut().for_each(|v| *v = tanh_f32(*v)),
            Activation::Linear | Activation::Softmax => {}
        }
    }
}

fn bias_act_backward_cpu(dy: &[f32], y: &[f32], act: Activation) -> Vec<f32> {
    dy.iter()
        .zip(y)
        .map(|(&g, &y)| g * derivative_cpu(y, act))
        .collect()
}
