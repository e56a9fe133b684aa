//! Masked sum and mean over time (`shaders/masked_reduce.wgsl`; its sums also in
//! `shaders/masked_reduce_subgroup.wgsl`, one workgroup per output, where the device has
//! subgroups and the shape gains from it, and on a software adapter for time axes longer than
//! one invocation may loop over there).
//!
//! x: `[B, T, F]` (or `[B, T]`), mask: `[B, T]` with 1 for kept steps and 0 for masked ones
//! -> out: `[B, F]` (or `[B]`). The mean is over kept steps only; a row with no kept step gives 0.

use super::{
    buf, f32_device, gpu_output, gpu_tensor, groups, host, loop_budget, loop_budget_error,
    shape_error, split_sum_helps,
};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "masked_reduce",
    source: include_str!("../../shaders/masked_reduce.wgsl"),
    params: Params::LAYOUT,
    entries: &[("masked_reduce", 3), ("masked_scale", 4)],
    trusted: false,
};

/// `masked_reduce` with one workgroup per output, adding through subgroup operations.
pub(crate) const KERNEL_SUBGROUP: Kernel = Kernel {
    name: "masked_reduce_subgroup",
    source: concat!(
        include_str!("../../shaders/workgroup_reduce_subgroup.wgsl"),
        include_str!("../../shaders/masked_reduce_subgroup.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("masked_reduce", 3)],
    trusted: false,
};

/// The same with workgroup-memory reductions, for a software adapter without subgroups (GL)
/// and time axes past its loop budget.
pub(crate) const KERNEL_WORKGROUP: Kernel = Kernel {
    name: "masked_reduce_workgroup",
    source: concat!(
        include_str!("../../shaders/workgroup_reduce.wgsl"),
        include_str!("../../shaders/masked_reduce_subgroup.wgsl")
    ),
    params: Params::LAYOUT,
    entries: &[("masked_reduce", 3)],
    trusted: false,
};

/// Invocations per output of the workgroup kernels (`LANES` in masked_reduce_subgroup.wgsl).
const LANES: usize = 64;

params! {
    struct Params {
        batch: u32,
        steps: u32,
        features: u32,
        mean: u32,
    }
}

/// Sum over the kept time steps: x: `[B, T, F]` (or `[B, T]`), mask: `[B, T]` (non-zero =
/// kept) -> `[B, F]` (or `[B]`).
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when x is not 2-d or 3-d, or the mask is not
/// `[B, T]`; [`Error::Data`](crate::Error::Data) for tensors on two devices or of dtype u32;
/// [`Error::Device`](crate::Error::Device) for T past 64 x 64 511 (4.1 million) steps on a
/// software adapter (its loop limit; see `SOFTWARE_LOOP_TRIPS` in `src/ops/mod.rs`).
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::masked_reduce::{masked_mean, masked_sum};
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [1, 3, 2], vec![1.0, 2.0, 100.0, 100.0, 3.0, 4.0])?;
/// let mask = Tensor::from_vec(&device, [1, 3], vec![1.0, 0.0, 1.0])?;
/// assert_eq!(masked_sum(&x, &mask)?.to_vec_blocking()?, vec![4.0, 6.0]);
/// assert_eq!(masked_mean(&x, &mask)?.to_vec_blocking()?, vec![2.0, 3.0]);
/// let none = Tensor::zeros(&device, [1, 3])?;
/// assert_eq!(masked_mean(&x, &none)?.to_vec_blocking()?, vec![0.0, 0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn masked_sum(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    masked_reduce(x, mask, false)
}

/// Mean over the kept time steps (0 where a row keeps none); shapes and errors as
/// [`masked_sum`], which has the example.
pub fn masked_mean(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    masked_reduce(x, mask, true)
}

fn masked_reduce(x: &Tensor, mask: &Tensor, mean: bool) -> Result<Tensor> {
    let device = f32_device("masked_reduce", &[x, mask])?;
    let dims = x.dims();
    if dims.len() < 2 || dims.len() > 3 {
        return Err(shape_error(
            "masked_reduce",
            &[None, None, None],
            dims,
            "x must be [B, T, F] or [B, T]",
        ));
    }
    let (batch, steps) = (dims[0], dims[1]);
    let features = dims.get(2).copied().unwrap_or(1);
    if mask.dims() != [batch, steps] {
        return Err(shape_error(
            "masked_reduce",
            &[Some(batch), Some(steps)],
            mask.dims(),
            "the mask must be [B, T] of x",
        ));
    }
    let out_shape = Shape(if dims.len() == 3 {
        vec![batch, features]
    } else {
        vec![batch]
    });
    match &device {
        Device::Cpu => {
            let out = masked_reduce_cpu(
                host(x).f32(),
                host(mask).f32(),
                batch,
                steps,
                features,
                mean,
            );
            Tensor::from_vec(&device, out_shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &out_shape)?;
            let params = Params {
                batch: batch as u32,
                steps: steps as u32,
                features: features as u32,
                mean: mean as u32,
            };
            let outputs = batch * features;
            // A software adapter cuts loops short: there a time axis longer than one
            // invocation may loop over goes to a workgroup per output, striding over it 64
            // invocations at a time (and a longer one is refused).
            let budget = loop_budget(ctx).unwrap_or(usize::MAX);
            let split = ctx.use_subgroups(|kind| split_sum_helps(kind, outputs, steps));
            let (kernel, workgroups) = if split || steps > budget {
                if steps.div_ceil(LANES) > budget {
                    let what = format!("a time axis of {steps} steps");
                    return Err(loop_budget_error(
                        ctx,
                        "masked_reduce",
                        &what,
                        steps.div_ceil(LANES),
                    ));
                }
                let kernel = if ctx.use_subgroups(|_| true) {
                    &KERNEL_SUBGROUP
                } else {
                    &KERNEL_WORKGROUP
                };
                (kernel, outputs as u64)
            } else {
                (&KERNEL, groups(outputs))
            };
            ctx.dispatch(
                kernel,
                "masked_reduce",
                &[buf(x), buf(mask), &out],
                bytemuck::bytes_of(&params),
                workgroups,
            )?;
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}

/// `x * mask[r] / total` per row r of x: `[..., C]` (mask: one value per row, total: its sum,
/// one element); 0 everywhere when total is 0. Turns per-row loss gradients into those of a
/// masked mean.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when the mask does not hold one value per row or
/// total is not one element.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::masked_reduce::masked_scale;
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// let mask = Tensor::from_vec(&device, [2], vec![1.0, 0.0])?;
/// let total = Tensor::from_vec(&device, [1], vec![2.0])?;
/// let out = masked_scale(&x, &mask, &total)?;
/// assert_eq!(out.to_vec_blocking()?, vec![0.5, 1.0, 0.0, 0.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn masked_scale(x: &Tensor, mask: &Tensor, total: &Tensor) -> Result<Tensor> {
    let device = f32_device("masked_scale", &[x, mask, total])?;
    let cols = x.dims().last().copied().unwrap_or(1).max(1);
    let rows = x.numel() / cols;
    if mask.numel() != rows {
        return Err(shape_error(
            "masked_scale",
            &[Some(rows)],
            mask.dims(),
            "the mask needs one value per row of x",
        ));
    }
    if total.numel() != 1 {
        return Err(shape_error(
            "masked_scale",
            &[Some(1)],
            total.dims(),
            "total must be one value",
        ));
    }
    match &device {
        Device::Cpu => {
            let (xs, m, t) = (host(x), host(mask), host(total).f32()[0]);
            let out = xs
                .f32()
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    if t > 0.0 {
                        v * m.f32()[i / cols] / t
                    } else {
                        0.0
                    }
                })
                .collect();
            Tensor::from_vec(&device, x.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, x.shape())?;
            let params = Params {
                batch: rows as u32,
                steps: 0,
                features: cols as u32,
                mean: 0,
            };
            ctx.dispatch(
                &KERNEL,
                "masked_scale",
                &[buf(x), buf(mask), &out, buf(total)],
                bytemuck::bytes_of(&params),
                groups(rows * cols),
            )?;
            Ok(gpu_tensor(&device, x.shape().clone(), out))
        }
    }
}

/// CPU twin: for each (b, f), sum x over kept t in order; the mean divides by the count.
fn masked_reduce_cpu(
    x: &[f32],
    mask: &[f32],
    batch: usize,
    steps: usize,
    features: usize,
    mean: bool,
) -> Vec<f32> {
    let mut out = vec![0.0; batch * features];
    for b in 0..batch {
        for f in 0..features {
            let (mut s, mut count) = (0.0f32, 0.0f32);
            for t in 0..steps {
                if mask[b * steps + t] != 0.0 {
                    s += x[(b * steps + t) * features + f];
                    count += 1.0;
                }
            }
            out[b * features + f] = match (mean, count > 0.0) {
                (false, _) => s,
                (true, true) => s / count,
                (true, false) => 0.0,
            };
        }
    }
    out
}
