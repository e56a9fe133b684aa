//! Elementwise arithmetic the optimizers and losses need (`shaders/elementwise.wgsl`).
//!
//! All tensors are flat views of n elements: fill -> `[n]`; affine a: `[n]` -> `[n]`;
//! add/sub/mul/div/max/min/compare a, b: `[n]` (same shape) -> `[n]`; axpy: y: `[n]` += alpha * x: `[n]`, in place.

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "elementwise",
    source: include_str!("../../shaders/elementwise.wgsl"),
    params: Params::LAYOUT,
    entries: &[("fill", 1), ("affine", 2), ("binary", 3), ("axpy", 2)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        op: u32,
        alpha: f32,
        beta: f32,
    }
}

/// A binary elementwise operation, for [`binary`].
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::elementwise::{BinaryOp, binary};
/// let device = Device::cpu();
/// let a = Tensor::from_vec(&device, [2], vec![1.0, 2.0])?;
/// let b = Tensor::from_vec(&device, [2], vec![0.0, 4.0])?;
/// assert_eq!(binary(&a, &b, BinaryOp::DivNoNan)?.to_vec_blocking()?, vec![0.0, 0.5]);
/// assert!(binary(&a, &b, BinaryOp::Div)?.to_vec_blocking()?[0].is_infinite());
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b` (IEEE: ±inf or NaN where `b` is 0).
    Div,
    /// `a / b`, or 0 where `b` is 0 (Keras's `divide_no_nan`).
    DivNoNan,
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
    /// 1 where `a >= b`, else 0.
    GreaterEqual,
    /// 1 where `a <= b`, else 0.
    LessEqual,
    /// 1 where `a == b`, else 0.
    Equal,
}

impl BinaryOp {
    fn apply(self, x: f32, y: f32) -> f32 {
        match self {
            BinaryOp::Add => x + y,
            BinaryOp::Sub => x - y,
            BinaryOp::Mul => x * y,
            BinaryOp::Div => x / y,
            BinaryOp::DivNoNan => {
                if y == 0.0 {
                    0.0
                } else {
                    x / y
                }
            }
            BinaryOp::Max => x.max(y),
            BinaryOp::Min => x.min(y),
            BinaryOp::GreaterEqual => f32::from(u8::from(x >= y)),
            BinaryOp::LessEqual => f32::from(u8::from(x <= y)),
            BinaryOp::Equal => f32::from(u8::from(x == y)),
        }
    }
}

/// A tensor of `shape` filled with `value` (NumPy's `np.full`).
///
/// # Errors
/// [`Error::Device`](crate::Error::Device) when the GPU cannot allocate it.
///
/// ```
/// use wgfit::Device;
/// let t = wgfit::ops::elementwise::fill(&Device::cpu(), [2, 2], 0.5)?;
/// assert_eq!((t.dims(), t.to_vec_blocking()?), (&[2, 2][..], vec![0.5; 4]));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn fill(device: &Device, shape: impl Into<Shape>, value: f32) -> Result<Tensor> {
    let shape = shape.into();
    match device {
        Device::Cpu => Tensor::from_vec(device, shape.clone(), vec![value; shape.numel()]),
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &shape)?;
            let params = Params {
                n: shape.numel() as u32,
                op: 0,
                alpha: value,
                beta: 0.0,
            };
            ctx.dispatch(
                &KERNEL,
                "fill",
                &[&out],
                bytemuck::bytes_of(&params),
                groups(shape.numel()),
            )?;
            Ok(gpu_tensor(device, shape, out))
        }
    }
}

/// `alpha * a + beta`, elementwise; a new tensor of a's shape.
///
/// # Errors
/// [`Error::Data`](crate::Error::Data) for a u32 tensor.
///
/// ```
/// use wgfit::{Device, Tensor};
/// let a = Tensor::from_vec(&Device::cpu(), [3], vec![1.0, 2.0, 3.0])?;
/// let y = wgfit::ops::elementwise::affine(&a, 2.0, 1.0)?;
/// assert_eq!(y.to_vec_blocking()?, vec![3.0, 5.0, 7.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn affine(a: &Tensor, alpha: f32, beta: f32) -> Result<Tensor> {
    let device = f32_device("affine", &[a])?;
    match &device {
        Device::Cpu => {
            let out = host(a).f32().iter().map(|&x| alpha * x + beta).collect();
            Tensor::from_vec(&device, a.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, a.shape())?;
            let params = Params {
                n: a.numel() as u32,
                op: 0,
                alpha,
                beta,
            };
            ctx.dispatch(
                &KERNEL,
                "affine",
                &[&out, buf(a)],
                bytemuck::bytes_of(&params),
                groups(a.numel()),
            )?;
            Ok(gpu_tensor(&device, a.shape().clone(), out))
        }
    }
}

/// `a (op) b` for tensors of one shape (no broadcasting); a new tensor of that shape.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when the shapes differ;
/// [`Error::Data`](crate::Error::Data) for tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Device, Error, Tensor};
/// use wgfit::ops::elementwise::{BinaryOp, binary};
/// let device = Device::cpu();
/// let a = Tensor::from_vec(&device, [2], vec![5.0, 7.0])?;
/// let b = Tensor::from_vec(&device, [2], vec![1.0, 2.0])?;
/// assert_eq!(binary(&a, &b, BinaryOp::Sub)?.to_vec_blocking()?, vec![4.0, 5.0]);
/// let c = Tensor::from_vec(&device, [1, 2], vec![1.0, 2.0])?;
/// assert!(matches!(binary(&a, &c, BinaryOp::Add), Err(Error::Shape(_))));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn binary(a: &Tensor, b: &Tensor, op: BinaryOp) -> Result<Tensor> {
    let device = f32_device("binary", &[a, b])?;
    same_shape("binary", a, b)?;
    match &device {
        Device::Cpu => {
            let out = host(a)
                .f32()
                .iter()
                .zip(host(b).f32())
                .map(|(&x, &y)| op.apply(x, y))
                .collect();
            Tensor::from_vec(&device, a.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, a.shape())?;
            let params = Params {
                n: a.numel() as u32,
                op: op as u32,
                alpha: 0.0,
                beta: 0.0,
            };
            ctx.dispatch(
                &KERNEL,
                "binary",
                &[&out, buf(a), buf(b)],
                bytemuck::bytes_of(&params),
                groups(a.numel()),
            )?;
            Ok(gpu_tensor(&device, a.shape().clone(), out))
        }
    }
}

/// `y += alpha * x`, in place on `y` (every clone of `y` sees it); x and y of one shape.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when the shapes differ;
/// [`Error::Data`](crate::Error::Data) when `x` and `y` share storage (a clone), or for
/// tensors on two devices or of dtype u32.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::elementwise::axpy;
/// let device = Device::cpu();
/// let y = Tensor::from_vec(&device, [2], vec![1.0, 1.0])?;
/// let x = Tensor::from_vec(&device, [2], vec![1.0, 2.0])?;
/// let alias = y.clone();
/// axpy(&y, 0.5, &x)?;
/// assert_eq!(alias.to_vec_blocking()?, vec![1.5, 2.0]);
/// assert!(axpy(&y, 1.0, &alias).is_err()); // y and x must be distinct
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn axpy(y: &Tensor, alpha: f32, x: &Tensor) -> Result<()> {
    let device = f32_device("axpy", &[y, x])?;
    same_shape("axpy", y, x)?;
    super::distinct("axpy", &[y, x])?;
    match &device {
        Device::Cpu => {
            let xs = host(x).f32().to_vec();
            super::with_host_mut(&[y], |t| {
                t[0].iter_mut().zip(&xs).for_each(|(y, &x)| *y += alpha * x)
            })
        }
        Device::Gpu(ctx) => {
            let params = Params {
                n: y.numel() as u32,
                op: 0,
                alpha,
                beta: 0.0,
            };
            ctx.dispatch(
                &KERNEL,
                "axpy",
                &[buf(y), buf(x)],
                bytemuck::bytes_of(&params),
                groups(y.numel()),
            )
        }
    }
}

fn same_shape(op: &str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dims() != b.dims() {
        let expected: Vec<Option<usize>> = a.dims().iter().map(|&d| Some(d)).collect();
        return Err(shape_error(
            op,
            &expected,
            b.dims(),
            "operands must have one shape",
        ));
    }
    Ok(())
}
