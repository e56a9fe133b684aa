//! `act(op(a) · op(b) + bias)` in one dispatch: the vec4 kernel applies the bias and the
//! activation in its store loop. CPU twin: the GEMM, then `ops::bias_act`'s CPU forward, so
//! the two paths compute the same formulas.

use ndarray::ArrayViewMut2;

use super::plan::{Plan, Tile};
use super::{check, matmul_cpu, vec4};
use crate::activation::Activation;
use crate::device::Device;
use crate::error::Result;
use crate::ops::bias_act::{activation_code, bias_act_in_place};
use crate::ops::{f32_device, gpu_output, gpu_tensor, host, shape_error};
use crate::tensor::Tensor;

/// `act(op(a) · op(b) + bias)`, a Dense layer's forward in one op (one dispatch on the GPU,
/// where [`matmul`](super::matmul) then
/// [`bias_act_forward`](crate::ops::bias_act::bias_act_forward) take two).
///
/// a, b and [`Transpose`](super::Transpose) as in [`matmul`](super::matmul) -> `[..., M, N]`;
/// bias: `[N]`, added to every row (or `None`). `act` must be elementwise.
///
/// # Errors
/// As [`matmul`](super::matmul); [`Error::Shape`](crate::Error::Shape) when bias is not `[N]`;
/// [`Error::Config`](crate::Error::Config) for [`Activation::Softmax`], which is not
/// elementwise: take the linear output and apply [`softmax`](crate::ops::softmax::softmax).
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::ops::matmul::matmul_bias_act;
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [2, 2], vec![1.0, 2.0, -1.0, 0.5])?;
/// let w = Tensor::from_vec(&device, [2, 3], vec![1.0, 0.0, 1.0, 0.0, 1.0, -1.0])?;
/// let bias = Tensor::from_vec(&device, [3], vec![0.5, -0.5, 0.0])?;
/// let y = matmul_bias_act(&x, &w, Transpose::None, Some(&bias), Activation::Relu)?;
/// // x·w = [[1, 2, -1], [-1, 0.5, -1.5]], plus bias, then relu.
/// assert_eq!(y.to_vec_blocking()?, vec![1.5, 1.5, 0.0, 0.0, 0.0, 0.0]);
/// let softmax = matmul_bias_act(&x, &w, Transpose::None, Some(&bias), Activation::Softmax);
/// assert!(matches!(softmax, Err(Error::Config(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn matmul_bias_act(
    a: &Tensor,
    b: &Tensor,
    transpose: super::Transpose,
    bias: Option<&Tensor>,
    act: Activation,
) -> Result<Tensor> {
    matmul_bias_act_planned(a, b, transpose, bias, act, None)
}

/// [`matmul_bias_act`] with the vec4 kernel's tile and K splits `forced` (GPU only).
pub(super) fn matmul_bias_act_planned(
    a: &Tensor,
    b: &Tensor,
    transpose: super::Transpose,
    bias: Option<&Tensor>,
    act: Activation,
    forced: Option<(Tile, u32)>,
) -> Result<Tensor> {
    let inputs: Vec<&Tensor> = [a, b].into_iter().chain(bias).collect();
    let device = f32_device("matmul_bias_act", &inputs)?;
    let (dims, out_shape) = check(a.dims(), b.dims(), transpose)?;
    if let Some(bias) = bias
        && bias.dims() != [dims.n]
    {
        return Err(shape_error(
            "matmul_bias_act",
            &[Some(dims.n)],
            bias.dims(),
            "bias must have one value per output column",
        ));
    }
    let act_code = activation_code("matmul_bias_act", act)?;
    match &device {
        Device::Cpu => {
            let bias = bias.map(|t| host(t).f32().to_vec());
            // bias and activation over each block of C, by the thread that computed it
            let epilogue = |block: &mut ArrayViewMut2<'_, f32>, first: usize| {
                let w = block.ncols();
                let bias = bias.as_deref().map(|b| &b[first..first + w]);
                for mut row in block.rows_mut() {
                    let row = row.as_slice_mut().expect("C's rows are contiguous");
                    bias_act_in_place(row, bias, w, act);
                }
            };
            let y = matmul_cpu(host(a).f32(), host(b).f32(), dims, epilogue);
            Tensor::from_vec(&device, out_shape, y)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &out_shape)?;
            let forced = match forced {
                Some((tile, _)) if !tile.fits(ctx.limits()) => {
                    return Err(crate::Error::Config(format!(
                        "the vec4 tile {tile:?} does not fit this adapter's limits"
                    )));
                }
                Some((tile, splits)) => Some(Plan::new(tile, dims.k, splits)),
                None => None,
            };
            if dims.m * dims.n * dims.batch > 0 {
                vec4::dispatch(ctx, a, b, bias, act_code, dims, &out, forced)?;
            }
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}
