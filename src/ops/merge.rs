//! The merge layers' data movement (`shaders/merge.wgsl`): blocks copied into or out of a
//! wider tensor (a concatenation and its backward), and a choice between two tensors by a
//! row mask (masked merges).
//!
//! concat: xs\[k\]: `[outer, w_k * inner]` -> `[outer, (Σ w_k) * inner]`, one dispatch per input
//! slice:  x: `[outer, W * inner]` -> `[outer, w * inner]` from column block `offset * inner`
//! select_rows: mask: `[R]`, a, b: `[R * inner]` -> a where mask != 0, else b

use super::{buf, common_device, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::{DType, Tensor};

pub(crate) const KERNEL: Kernel = Kernel {
    name: "merge",
    source: include_str!("../../shaders/merge.wgsl"),
    params: Params::LAYOUT,
    entries: &[("copy_block", 2), ("select_rows", 4)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        width: u32,
        src_stride: u32,
        src_offset: u32,
        dst_stride: u32,
        dst_offset: u32,
        inner: u32,
        pad: u32,
    }
}

/// A block copy: `rows` rows of `width` values from `src` (row stride `src_stride`, starting
/// at column `src_offset`) to `dst` (row stride `dst_stride`, from column `dst_offset`).
#[derive(Clone, Copy)]
struct Block {
    rows: usize,
    width: usize,
    src_stride: usize,
    src_offset: usize,
    dst_stride: usize,
    dst_offset: usize,
}

impl Block {
    // CPU twin of copy_block.
    fn copy_cpu(&self, src: &[f32], dst: &mut [f32]) {
        for r in 0..self.rows {
            let s = r * self.src_stride + self.src_offset;
            let d = r * self.dst_stride + self.dst_offset;
            dst[d..d + self.width].copy_from_slice(&src[s..s + self.width]);
        }
    }

    fn dispatch(
        &self,
        device: &Device,
        src: &Tensor,
        dst: &crate::device::GpuBuffer,
    ) -> Result<()> {
        let Device::Gpu(ctx) = device else {
            unreachable!("dispatch is only called on a GPU device")
        };
        let n = self.rows * self.width;
        let params = Params {
            n: n as u32,
            width: self.width.max(1) as u32,
            src_stride: self.src_stride as u32,
            src_offset: self.src_offset as u32,
            dst_stride: self.dst_stride as u32,
            dst_offset: self.dst_offset as u32,
            inner: 1,
            pad: 0,
        };
        ctx.dispatch(
            &KERNEL,
            "copy_block",
            &[dst, buf(src)],
            bytemuck::bytes_of(&params),
            groups(n),
        )
    }
}

/// Concatenates `xs` along `axis` (of the full shape, batch included): every other dim must
/// agree. Keras's `ops.concatenate`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::merge::concat;
/// let d = Device::cpu();
/// let a = Tensor::from_vec(&d, [2, 1], vec![1.0, 2.0])?;
/// let b = Tensor::from_vec(&d, [2, 2], vec![3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(concat(&[&a, &b], 1)?.to_vec_blocking()?, vec![1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn concat(xs: &[&Tensor], axis: usize) -> Result<Tensor> {
    let device = f32_device("concatenate", xs)?;
    let first = xs[0].dims();
    if axis >= first.len() {
        return Err(shape_error(
            "concatenate",
            &[],
            first,
            &format!("axis {axis} is past the inputs' rank {}", first.len()),
        ));
    }
    for x in xs {
        let d = x.dims();
        if d.len() != first.len()
            || d.iter()
                .zip(first)
                .enumerate()
                .any(|(i, (a, b))| i != axis && a != b)
        {
            let expected: Vec<Option<usize>> = first
                .iter()
                .enumerate()
                .map(|(i, &v)| (i != axis).then_some(v))
                .collect();
            return Err(shape_error(
                "concatenate",
                &expected,
                d,
                "inputs must agree on every dim but the concatenation axis",
            ));
        }
    }
    let outer: usize = first[..axis].iter().product();
    let inner: usize = first[axis + 1..].iter().product();
    let total: usize = xs.iter().map(|x| x.dims()[axis]).sum();
    let mut dims = first.to_vec();
    dims[axis] = total;
    let shape = Shape(dims);
    let mut offset = 0;
    let blocks: Vec<Block> = xs
        .iter()
        .map(|x| {
            let width = x.dims()[axis] * inner;
            let block = Block {
                rows: outer,
                width,
                src_stride: width,
                src_offset: 0,
                dst_stride: total * inner,
                dst_offset: offset,
            };
            offset += width;
            block
        })
        .collect();
    match &device {
        Device::Cpu => {
            let mut out = vec![0.0f32; shape.numel()];
            for (block, x) in blocks.iter().zip(xs) {
                block.copy_cpu(host(x).f32(), &mut out);
            }
            Tensor::from_vec(&device, shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &shape)?;
            for (block, x) in blocks.iter().zip(xs) {
                block.dispatch(&device, x, &out)?;
            }
            Ok(gpu_tensor(&device, shape, out))
        }
    }
}

/// The `len` entries from `start` along `axis` of `x` (the backward of [`concat()`]).
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::merge::slice;
/// let x = Tensor::from_vec(&Device::cpu(), [2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(slice(&x, 1, 1, 2)?.to_vec_blocking()?, vec![2.0, 3.0, 5.0, 6.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn slice(x: &Tensor, axis: usize, start: usize, len: usize) -> Result<Tensor> {
    let device = f32_device("slice", &[x])?;
    let d = x.dims();
    if axis >= d.len() || start + len > d[axis] {
        return Err(shape_error(
            "slice",
            &[],
            d,
            &format!(
                "entries {start}..{} of axis {axis} are not all there",
                start + len
            ),
        ));
    }
    let outer: usize = d[..axis].iter().product();
    let inner: usize = d[axis + 1..].iter().product();
    let mut dims = d.to_vec();
    dims[axis] = len;
    let shape = Shape(dims);
    let block = Block {
        rows: outer,
        width: len * inner,
        src_stride: d[axis] * inner,
        src_offset: start * inner,
        dst_stride: len * inner,
        dst_offset: 0,
    };
    match &device {
        Device::Cpu => {
            let mut out = vec![0.0f32; shape.numel()];
            block.copy_cpu(host(x).f32(), &mut out);
            Tensor::from_vec(&device, shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &shape)?;
            block.dispatch(&device, x, &out)?;
            Ok(gpu_tensor(&device, shape, out))
        }
    }
}

/// `a` where `mask` is non-zero, else `b`: mask `[R]` (a `[B, T]` mask seen flat), a and b of
/// one shape with `R * inner` elements (inner = F for `[B, T, F]` values, 1 for a choice per
/// element). Keras's `ops.where(mask[..., None], a, b)`.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::merge::select_rows;
/// let d = Device::cpu();
/// let mask = Tensor::from_vec(&d, [2], vec![1.0, 0.0])?;
/// let a = Tensor::from_vec(&d, [2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// let b = Tensor::from_vec(&d, [2, 2], vec![-1.0, -2.0, -3.0, -4.0])?;
/// assert_eq!(select_rows(&mask, &a, &b)?.to_vec_blocking()?, vec![1.0, 2.0, -3.0, -4.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn select_rows(mask: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let device = common_device(
        "select_rows",
        &[(mask, DType::F32), (a, DType::F32), (b, DType::F32)],
    )?;
    let rows = mask.numel();
    if a.dims() != b.dims()
        || rows == 0 && a.numel() > 0
        || rows > 0 && !a.numel().is_multiple_of(rows)
    {
        let expected: Vec<Option<usize>> = a.dims().iter().map(|&v| Some(v)).collect();
        return Err(shape_error(
            "select_rows",
            &expected,
            b.dims(),
            &format!("a and b must have one shape, a multiple of the mask's {rows} rows"),
        ));
    }
    let inner = a.numel().checked_div(rows).unwrap_or(1).max(1);
    match &device {
        Device::Cpu => {
            let (m, av, bv) = (host(mask), host(a), host(b));
            let out = (0..a.numel())
                .map(|i| {
                    if m.f32()[i / inner] != 0.0 {
                        av.f32()[i]
                    } else {
                        bv.f32()[i]
                    }
                })
                .collect();
            Tensor::from_vec(&device, a.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, a.shape())?;
            let params = Params {
                n: a.numel() as u32,
                width: 1,
                src_stride: 0,
                src_offset: 0,
                dst_stride: 0,
                dst_offset: 0,
                inner: inner as u32,
                pad: 0,
            };
            ctx.dispatch(
                &KERNEL,
                "select_rows",
                &[&out, buf(a), buf(b), buf(mask)],
                bytemuck::bytes_of(&params),
                groups(a.numel()),
            )?;
            Ok(gpu_tensor(&device, a.shape().clone(), out))
        }
    }
}
