//! Per-sample losses, their gradients and accuracy (`shaders/loss.wgsl`).
//!
//! pred, target: `[..., C]` seen as `[R, C]`. Row ops return `[R]` (shaped `[...]`): the mean
//! over C for binary crossentropy, MSE and binary accuracy, as Keras's losses take it, and
//! the sum over the classes for categorical crossentropy; gradient ops return `[R, C]` with
//! `scale` folded in (1 / (R C) for the batch mean of row means).
//!
//! A software adapter runs rows longer than its loop budget as several dispatches per op, each
//! carrying on along the rows from where the one before stopped (see `shaders/loss.wgsl`).
//!
//! Every op checks that pred and target have one shape ([`Error::Shape`](crate::Error::Shape)
//! otherwise) and that both are f32 tensors on one device ([`Error::Data`](crate::Error::Data)
//! otherwise). The sigmoid + binary crossentropy gradient is
//! `softmax::softmax_xent_backward(probs, y, scale)`: both are `scale (p - y)`.

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, loop_ranges, shape_error};
use crate::device::{Device, GpuBuffer, GpuContext, Kernel};
use crate::error::Result;
use crate::ops::fast_math::exp_clamped;
use crate::ops::softmax::log1p_pos;
use crate::shape::Shape;
use crate::tensor::Tensor;

mod backward;
mod cpu;
pub use backward::{bce_backward, cce_backward, mse_backward};

pub(crate) const KERNEL: Kernel = Kernel {
    name: "loss",
    source: concat!(
        include_str!("../../../shaders/math.wgsl"),
        include_str!("../../../shaders/loss.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[
        ("sigmoid_xent_forward", 4),
        ("bce_forward", 3),
        ("bce_backward", 3),
        ("mse_forward", 3),
        ("mse_backward", 3),
        ("accuracy_categorical", 4),
        ("accuracy_binary", 3),
        ("cce_forward", 4),
        ("cce_backward", 4),
    ],
    trusted: false,
};

/// Keras's `epsilon()`: probabilities are clipped to `[EPSILON, 1 - EPSILON]` before a log.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::{EPSILON, bce_forward};
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [1, 1], vec![0.0])?; // a confident, wrong prediction
/// let target = Tensor::from_vec(&device, [1, 1], vec![1.0])?;
/// let loss = bce_forward(&pred, &target)?.to_vec_blocking()?[0];
/// assert!((loss + EPSILON.ln()).abs() < 1e-3); // -log(EPSILON), not infinity
/// # Ok::<(), wgfit::Error>(())
/// ```
pub const EPSILON: f32 = 1e-7;

params! {
    struct Params {
        rows: u32,
        cols: u32,
        eps: f32,
        scale: f32,
        // The steps of a row kernel's loop this dispatch runs (unused by the gradient kernels).
        lo: u32,
        hi: u32,
    }
}

impl Params {
    fn new(rows: usize, cols: usize, scale: f32) -> Params {
        Params {
            rows: rows as u32,
            cols: cols as u32,
            eps: EPSILON,
            scale,
            lo: 0,
            hi: 0,
        }
    }
}

/// Dispatches row kernel `entry` (one invocation per row of `cols`) over its loop of
/// `steps` (the columns, times the passes it makes over them): in one dispatch, or on a
/// software adapter in as many as its loop budget asks, each carrying on from the one before.
fn dispatch_rows(
    ctx: &GpuContext,
    entry: &'static str,
    buffers: &[&GpuBuffer],
    (rows, cols, steps): (usize, usize, usize),
    scale: f32,
) -> Result<()> {
    for (lo, hi) in loop_ranges(ctx, steps, |trips| trips) {
        let params = Params {
            lo,
            hi,
            ..Params::new(rows, cols, scale)
        };
        ctx.dispatch(
            &KERNEL,
            entry,
            buffers,
            bytemuck::bytes_of(&params),
            groups(rows),
        )?;
    }
    Ok(())
}

/// The row ops, with their CPU twins (per row of C values -> one value).
#[derive(Clone, Copy)]
enum RowOp {
    Cce,
    Bce,
    Mse,
    AccuracyCategorical,
    AccuracyBinary,
}

impl RowOp {
    fn entry(self) -> &'static str {
        match self {
            RowOp::Cce => "cce_forward",
            RowOp::Bce => "bce_forward",
            RowOp::Mse => "mse_forward",
            RowOp::AccuracyCategorical => "accuracy_categorical",
            RowOp::AccuracyBinary => "accuracy_binary",
        }
    }

    /// Passes the kernel makes over a row's C columns.
    fn passes(self) -> usize {
        match self {
            RowOp::Cce => 2,
            _ => 1,
        }
    }

    /// Floats per row the kernel carries between dispatches besides its sum (in `out2`).
    fn carried(self) -> usize {
        match self {
            RowOp::Cce => 1,
            RowOp::AccuracyCategorical => 2,
            RowOp::Bce | RowOp::Mse | RowOp::AccuracyBinary => 0,
        }
    }
}

fn check(op: &str, pred: &Tensor, target: &Tensor) -> Result<(Device, usize, usize)> {
    let device = f32_device(op, &[pred, target])?;
    if pred.dims() != target.dims() {
        let expected: Vec<Option<usize>> = pred.dims().iter().map(|&d| Some(d)).collect();
        return Err(shape_error(
            op,
            &expected,
            target.dims(),
            "targets must have the shape of the predictions",
        ));
    }
    let cols = pred.dims().last().copied().unwrap_or(1).max(1);
    Ok((device, pred.numel() / cols, cols))
}

fn row_shape(pred: &Tensor) -> Shape {
    let d = pred.dims();
    Shape(d[..d.len().saturating_sub(1)].to_vec())
}

fn rows(op: RowOp, pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    let (device, r, c) = check(op.entry(), pred, target)?;
    let shape = row_shape(pred);
    match &device {
        Device::Cpu => {
            let (p, y) = (host(pred), host(target));
            let out = (0..r)
                .map(|i| op.cpu(&p.f32()[i * c..(i + 1) * c], &y.f32()[i * c..(i + 1) * c]))
                .collect();
            Tensor::from_vec(&device, shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &shape)?;
            let carry = match op.carried() {
                0 => None,
                n => Some(gpu_output(ctx, &Shape(vec![r, n]))?),
            };
            let mut buffers = vec![buf(pred), buf(target), &out];
            buffers.extend(carry.as_ref());
            dispatch_rows(ctx, op.entry(), &buffers, (r, c, op.passes() * c), 1.0)?;
            Ok(gpu_tensor(&device, shape, out))
        }
    }
}

/// Categorical crossentropy of probabilities per row, as Keras: normalised to sum 1, clipped
/// to `[1e-7, 1 - 1e-7]`, `-sum y log q` (summed over the classes).
///
/// pred, target: `[..., C]` -> `[...]`. For logits use
/// [`softmax_xent_forward`](crate::ops::softmax::softmax_xent_forward).
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::loss::cce_forward;
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [1, 2], vec![0.25, 0.75])?;
/// let target = Tensor::from_vec(&device, [1, 2], vec![0.0, 1.0])?;
/// let loss = cce_forward(&pred, &target)?.to_vec_blocking()?;
/// assert!((loss[0] + 0.75f32.ln()).abs() < 1e-6);
/// let wrong = Tensor::from_vec(&device, [2, 1], vec![0.0, 1.0])?;
/// assert!(matches!(cce_forward(&pred, &wrong), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn cce_forward(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    rows(RowOp::Cce, pred, target)
}

/// Binary crossentropy of probabilities per row (clipped to `[1e-7, 1 - 1e-7]`), averaged
/// over the row's C entries: pred, target: `[..., C]` -> `[...]`. For logits use
/// [`sigmoid_xent_forward`]; the example at [`EPSILON`] shows the clipping.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::bce_forward;
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [2, 1], vec![0.8, 0.2])?;
/// let target = Tensor::from_vec(&device, [2, 1], vec![1.0, 0.0])?;
/// let loss = bce_forward(&pred, &target)?.to_vec_blocking()?;
/// assert_eq!(loss.len(), 2);
/// assert!(loss.iter().all(|l| (l + 0.8f32.ln()).abs() < 1e-6));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn bce_forward(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    rows(RowOp::Bce, pred, target)
}

/// Mean squared error per row, averaged over the row's C entries:
/// pred, target: `[..., C]` -> `[...]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::{mse_backward, mse_forward};
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [1, 2], vec![1.0, 3.0])?;
/// let target = Tensor::from_vec(&device, [1, 2], vec![0.0, 1.0])?;
/// assert_eq!(mse_forward(&pred, &target)?.to_vec_blocking()?, vec![2.5]); // (1 + 4) / 2
/// // The batch mean's gradient: scale = 1 / (R C).
/// assert_eq!(mse_backward(&pred, &target, 0.5)?.to_vec_blocking()?, vec![1.0, 2.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn mse_forward(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    rows(RowOp::Mse, pred, target)
}

/// 1 where the row's argmax matches the target's, else 0 (Keras's `categorical_accuracy`;
/// ties go to the first index): pred, target: `[..., C]` -> `[...]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::accuracy_categorical;
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [2, 3], vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2])?;
/// let target = Tensor::from_vec(&device, [2, 3], vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0])?;
/// assert_eq!(accuracy_categorical(&pred, &target)?.to_vec_blocking()?, vec![1.0, 0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn accuracy_categorical(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    rows(RowOp::AccuracyCategorical, pred, target)
}

/// Fraction of the row's entries on the same side of 0.5 as the target (Keras's
/// `binary_accuracy`; exactly 0.5 counts as 0): pred, target: `[..., C]` -> `[...]`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::accuracy_binary;
/// let device = Device::cpu();
/// let pred = Tensor::from_vec(&device, [1, 4], vec![0.9, 0.2, 0.6, 0.4])?;
/// let target = Tensor::from_vec(&device, [1, 4], vec![1.0, 0.0, 0.0, 0.0])?;
/// assert_eq!(accuracy_binary(&pred, &target)?.to_vec_blocking()?, vec![0.75]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn accuracy_binary(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    rows(RowOp::AccuracyBinary, pred, target)
}

/// Sigmoid of logits `z` and the binary crossentropy of each row against `y`, from the
/// logits: `max(z, 0) - z y + log1p(e^-|z|)`, averaged over the row. Returns (probs, loss).
///
/// z, y: `[..., C]` -> probs: `[..., C]`, loss: `[...]` (Keras's
/// `binary_crossentropy(from_logits=True)`). The gradient w.r.t. z is
/// [`softmax_xent_backward`](crate::ops::softmax::softmax_xent_backward)`(probs, y, scale)`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::loss::sigmoid_xent_forward;
/// let device = Device::cpu();
/// let z = Tensor::from_vec(&device, [2, 1], vec![0.0, 100.0])?;
/// let y = Tensor::from_vec(&device, [2, 1], vec![1.0, 1.0])?;
/// let (probs, loss) = sigmoid_xent_forward(&z, &y)?;
/// assert_eq!(probs.to_vec_blocking()?, vec![0.5, 1.0]);
/// let loss = loss.to_vec_blocking()?;
/// assert!((loss[0] - 2f32.ln()).abs() < 1e-6 && loss[1] < 1e-30); // no overflow at z = 100
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn sigmoid_xent_forward(z: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
    let (device, r, c) = check("sigmoid_xent", z, y)?;
    let shape = row_shape(z);
    match &device {
        Device::Cpu => {
            let (zs, ys) = (host(z), host(y));
            let (zs, ys) = (zs.f32(), ys.f32());
            let mut probs = Vec::with_capacity(zs.len());
            let mut loss = Vec::with_capacity(r);
            for i in 0..r {
                let mut s = 0.0f32;
                for j in i * c..(i + 1) * c {
                    let e = exp_clamped(-zs[j].abs());
                    s += zs[j].max(0.0) - zs[j] * ys[j] + log1p_pos(e);
                    probs.push(if zs[j] >= 0.0 {
                        1.0 / (1.0 + e)
                    } else {
                        e / (1.0 + e)
                    });
                }
                loss.push(s / c as f32);
            }
            Ok((
                Tensor::from_vec(&device, z.shape().clone(), probs)?,
                Tensor::from_vec(&device, shape, loss)?,
            ))
        }
        Device::Gpu(ctx) => {
            let loss = gpu_output(ctx, &shape)?;
            let probs = gpu_output(ctx, z.shape())?;
            dispatch_rows(
                ctx,
                "sigmoid_xent_forward",
                &[buf(z), buf(y), &loss, &probs],
                (r, c, c),
                1.0,
            )?;
            Ok((
                gpu_tensor(&device, z.shape().clone(), probs),
                gpu_tensor(&device, shape, loss),
            ))
        }
    }
}
