//! Row-wise softmax and fused softmax + crossentropy (`shaders/softmax.wgsl`, its row
//! reductions from `shaders/workgroup_reduce.wgsl` or, with subgroups,
//! `shaders/workgroup_reduce_subgroup.wgsl`).
//!
//! softmax:               z: `[..., C]` -> probs: `[..., C]`
//! softmax_xent_forward:  z: `[..., C]`, y: `[..., C]` -> (probs, loss per row: `[...]`)
//! softmax_xent_backward: probs, y: `[..., C]` -> grad = scale (probs - y)

use super::{
    buf, f32_device, gpu_output, gpu_tensor, host, loop_budget, loop_budget_error, shape_error,
};
use crate::device::{Device, GpuContext, Kernel};
use crate::error::Result;
use crate::ops::fast_math::exp_clamped;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "softmax",
    source: concat!(
        include_str!("../../shaders/workgroup_reduce.wgsl"),
        include_str!("../../shaders/math.wgsl"),
        include_str!("../../shaders/softmax.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[
        ("softmax_forward", 2),
        ("softmax_xent_forward", 4),
        ("softmax_xent_backward", 3),
        ("softmax_backward", 3),
    ],
    trusted: false,
};

/// The same row kernels with their reductions done by subgroup operations.
pub(crate) const KERNEL_SUBGROUP: Kernel = Kernel {
    name: "softmax_subgroup",
    source: concat!(
        include_str!("../../shaders/workgroup_reduce_subgroup.wgsl"),
        include_str!("../../shaders/math.wgsl"),
        include_str!("../../shaders/softmax.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[
        ("softmax_forward", 2),
        ("softmax_xent_forward", 4),
        ("softmax_xent_backward", 3),
        ("softmax_backward", 3),
    ],
    trusted: false,
};

/// The kernel for the row ops (one workgroup of 64 per row) on this device.
fn row_kernel(ctx: &GpuContext) -> &'static Kernel {
    // Auto takes subgroups on every adapter. Measured on lavapipe (benches/kernels.rs
    // `reductions`, two runs): softmax of [128, 10] in 0.51-0.53 of the time, of [4096, 1000]
    // in 0.65-0.72, as each of a row's reductions takes 2 barriers instead of 8. Not measured
    // on a hardware GPU, where a barrier also costs more than a subgroup operation.
    if ctx.use_subgroups(|_| true) {
        &KERNEL_SUBGROUP
    } else {
        &KERNEL
    }
}

/// Invocations per row of the row kernels (`LANES` in softmax.wgsl).
const LANES: usize = 64;

/// The row kernels make `passes` strided passes over a row, `cols / 64` loop trips each: on a
/// software adapter, whose loop budget that can outrun (past 1 032 176 classes for the fused
/// crossentropy's 4 passes, 1 376 234 for the softmax's 3, 2 064 352 for its backward's 2),
/// an error rather than wrong numbers. Rows that wide are rare enough not to split.
fn check_row_loops(ctx: &GpuContext, op: &str, cols: usize, passes: usize) -> Result<()> {
    let trips = passes * cols.div_ceil(LANES);
    match loop_budget(ctx) {
        Some(budget) if trips > budget => {
            let what = format!("a row of {cols} classes");
            Err(loop_budget_error(ctx, op, &what, trips))
        }
        _ => Ok(()),
    }
}

params! {
    struct Params {
        rows: u32,
        cols: u32,
        scale: f32,
    }
}

fn rows_cols(t: &Tensor) -> Result<(usize, usize)> {
    match t.dims().last() {
        Some(&cols) if cols > 0 => Ok((t.numel() / cols, cols)),
        _ => Err(shape_error(
            "softmax",
            &[None, None],
            t.dims(),
            "softmax needs a last axis of at least one class",
        )),
    }
}

fn same_shape(op: &str, want: &Tensor, got: &Tensor) -> Result<()> {
    if want.dims() != got.dims() {
        let expected: Vec<Option<usize>> = want.dims().iter().map(|&d| Some(d)).collect();
        return Err(shape_error(
            op,
            &expected,
            got.dims(),
            "targets must have the shape of the predictions",
        ));
    }
    Ok(())
}

/// Softmax over the last axis: z: `[..., C]` -> probabilities of the same shape, each row
/// summing to 1 (Keras's `activation='softmax'`).
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) for a scalar or a last axis of size 0;
/// [`Error::Data`](crate::Error::Data) for a u32 tensor; [`Error::Device`](crate::Error::Device)
/// for rows past 1 376 234 classes on a software adapter (its loop limit).
///
/// ```
/// use wgfit::{Device, Tensor};
/// let z = Tensor::from_vec(&Device::cpu(), [1, 2], vec![0.0, 3f32.ln()])?;
/// let p = wgfit::ops::softmax::softmax(&z)?.to_vec_blocking()?;
/// assert!((p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn softmax(z: &Tensor) -> Result<Tensor> {
    let device = f32_device("softmax", &[z])?;
    let (rows, cols) = rows_cols(z)?;
    match &device {
        Device::Cpu => {
            let (probs, _) = softmax_xent_cpu(host(z).f32(), None, cols);
            Tensor::from_vec(&device, z.shape().clone(), probs)
        }
        Device::Gpu(ctx) => {
            check_row_loops(ctx, "softmax", cols, 3)?;
            let out = gpu_output(ctx, z.shape())?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
                scale: 1.0,
            };
            ctx.dispatch(
                row_kernel(ctx),
                "softmax_forward",
                &[buf(z), &out],
                bytemuck::bytes_of(&params),
                rows as u64,
            )?;
            Ok(gpu_tensor(&device, z.shape().clone(), out))
        }
    }
}

/// Softmax of logits `z` and the crossentropy of each row against targets `y`, computed from
/// the logits (stable: no log of a rounded probability). Returns `(probs, loss_per_row)`.
///
/// z, y: `[..., C]` -> probs: `[..., C]`, loss: `[...]` (the crossentropy summed over the
/// classes, Keras's `categorical_crossentropy(from_logits=True)`).
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when y's shape is not z's, or the last axis is
/// empty; [`Error::Data`](crate::Error::Data) for tensors on two devices or of dtype u32;
/// [`Error::Device`](crate::Error::Device) for rows past 1 032 176 classes on a software
/// adapter (its loop limit).
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::softmax::softmax_xent_forward;
/// let device = Device::cpu();
/// let z = Tensor::from_vec(&device, [1, 2], vec![0.0, 0.0])?;
/// let y = Tensor::from_vec(&device, [1, 2], vec![0.0, 1.0])?;
/// let (probs, loss) = softmax_xent_forward(&z, &y)?;
/// assert_eq!(probs.to_vec_blocking()?, vec![0.5, 0.5]);
/// assert_eq!(loss.dims(), &[1]);
/// assert!((loss.to_vec_blocking()?[0] - 2f32.ln()).abs() < 1e-6);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn softmax_xent_forward(z: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
    let device = f32_device("softmax_xent", &[z, y])?;
    same_shape("softmax_xent", z, y)?;
    let (rows, cols) = rows_cols(z)?;
    let row_shape = Shape(z.dims()[..z.dims().len() - 1].to_vec());
    match &device {
        Device::Cpu => {
            let (probs, loss) = softmax_xent_cpu(host(z).f32(), Some(host(y).f32()), cols);
            Ok((
                Tensor::from_vec(&device, z.shape().clone(), probs)?,
                Tensor::from_vec(&device, row_shape, loss)?,
            ))
        }
        Device::Gpu(ctx) => {
            check_row_loops(ctx, "softmax_xent", cols, 4)?;
            let probs = gpu_output(ctx, z.shape())?;
            let loss = gpu_output(ctx, &row_shape)?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
                scale: 1.0,
            };
            ctx.dispatch(
                row_kernel(ctx),
                "softmax_xent_forward",
                &[buf(z), &probs, buf(y), &loss],
                bytemuck::bytes_of(&params),
                rows as u64,
            )?;
            Ok((
                gpu_tensor(&device, z.shape().clone(), probs),
                gpu_tensor(&device, row_shape, loss),
            ))
        }
    }
}

/// Backward of a softmax output under a loss that does not fuse with it:
/// `dz = probs (dy - sum(dy probs))` per row. probs, dy: `[..., C]` -> dz of the same shape.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when dy's shape is not probs';
/// [`Error::Device`](crate::Error::Device) for rows past 2 064 352 classes on a software
/// adapter (its loop limit).
///
/// ```
/// use wgfit::{Device, Tensor};
/// let device = Device::cpu();
/// let probs = Tensor::from_vec(&device, [1, 2], vec![0.5, 0.5])?;
/// let dy = Tensor::from_vec(&device, [1, 2], vec![1.0, 0.0])?;
/// let dz = wgfit::ops::softmax::softmax_backward(&probs, &dy)?;
/// assert_eq!(dz.to_vec_blocking()?, vec![0.25, -0.25]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn softmax_backward(probs: &Tensor, dy: &Tensor) -> Result<Tensor> {
    let device = f32_device("softmax_backward", &[probs, dy])?;
    same_shape("softmax_backward", probs, dy)?;
    let (rows, cols) = rows_cols(probs)?;
    match &device {
        Device::Cpu => {
            let (p, g) = (host(probs), host(dy));
            let mut out = Vec::with_capacity(rows * cols);
            for (p, g) in p.f32().chunks(cols).zip(g.f32().chunks(cols)) {
                let d: f32 = p.iter().zip(g).map(|(&p, &g)| g * p).sum();
                out.extend(p.iter().zip(g).map(|(&p, &g)| p * (g - d)));
            }
            Tensor::from_vec(&device, probs.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            check_row_loops(ctx, "softmax_backward", cols, 2)?;
            let out = gpu_output(ctx, probs.shape())?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
                scale: 1.0,
            };
            ctx.dispatch(
                row_kernel(ctx),
                "softmax_backward",
                &[buf(probs), &out, buf(dy)],
                bytemuck::bytes_of(&params),
                rows as u64,
            )?;
            Ok(gpu_tensor(&device, probs.shape().clone(), out))
        }
    }
}

/// Gradient of `scale * sum_rows(loss)` w.r.t. the logits: `scale * (probs - y)`, from the
/// probabilities of [`softmax_xent_forward`]. probs, y: `[..., C]` -> `[..., C]`. The same
/// formula is the gradient of sigmoid + binary crossentropy
/// ([`sigmoid_xent_forward`](crate::ops::loss::sigmoid_xent_forward)).
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when y's shape is not probs'.
///
/// ```
/// use wgfit::{Device, Tensor};
/// let device = Device::cpu();
/// let probs = Tensor::from_vec(&device, [1, 2], vec![0.5, 0.5])?;
/// let y = Tensor::from_vec(&device, [1, 2], vec![0.0, 1.0])?;
/// let dz = wgfit::ops::softmax::softmax_xent_backward(&probs, &y, 2.0)?;
/// assert_eq!(dz.to_vec_blocking()?, vec![1.0, -1.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn softmax_xent_backward(probs: &Tensor, y: &Tensor, scale: f32) -> Result<Tensor> {
    let device = f32_device("softmax_xent_backward", &[probs, y])?;
    same_shape("softmax_xent_backward", probs, y)?;
    let (rows, cols) = rows_cols(probs)?;
    match &device {
        Device::Cpu => {
            let grad = host(probs)
                .f32()
                .iter()
                .zip(host(y).f32())
                .map(|(&p, &t)| scale * (p - t))
                .collect();
            Tensor::from_vec(&device, probs.shape().clone(), grad)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, probs.shape())?;
            let params = Params {
                rows: rows as u32,
                cols: cols as u32,
                scale,
            };
            ctx.dispatch(
                &KERNEL,
                "softmax_xent_backward",
                &[buf(probs), &out, buf(y)],
                bytemuck::bytes_of(&params),
                super::groups(rows * cols),
            )?;
            Ok(gpu_tensor(&device, probs.shape().clone(), out))
        }
    }
}

/// log(1 + r) for r >= 0 as the kernel computes it (2 atanh(r / (2 + r)) below 1).
pub(crate) fn log1p_pos(r: f32) -> f32 {
    if r > 1.0 {
        return (1.0 + r).ln();
    }
    let w = r / (2.0 + r);
    let w2 = w * w;
    let (mut term, mut acc) = (w, w);
    let mut k = 3.0f32;
    while k < 24.0 {
        term *= w2;
        acc += term / k;
        k += 2.0;
    }
    2.0 * acc
}

/// CPU twin: per row, with m = max z and 1 + r = sum exp(z - m): probs = exp(z - m) / (1 + r)
/// and loss = sum_c y_c ((m - z_c) + log1p(r)).
fn softmax_xent_cpu(z: &[f32], y: Option<&[f32]>, cols: usize) -> (Vec<f32>, Vec<f32>) {
    let mut probs = vec![0.0; z.len()];
    let mut loss = Vec::with_capacity(z.len() / cols);
    for (r, row) in z.chunks(cols).enumerate() {
        let max = row.iter().copied().fold(f32::MIN, f32::max);
        let below: f32 = row
            .iter()
            .filter(|&&v| v < max)
            .map(|&v| exp_clamped(v - max))
            .sum();
        let ties = row.iter().filter(|&&v| v >= max).count() as f32;
        let rest = below + (ties - 1.0);
        for (c, &v) in row.iter().enumerate() {
            probs[r * cols + c] = exp_clamped(v - max) / (1.0 + rest);
        }
        if let Some(y) = y {
            let log_s = log1p_pos(rest);
            let t = &y[r * cols..(r + 1) * cols];
            loss.push(
                t.iter()
                    .zip(row)
                    .map(|(&t, &v)| t * ((max - v) + log_s))
                    .sum(),
            );
        }
    }
    (probs, loss)
}
