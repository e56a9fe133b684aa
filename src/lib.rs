//! # wgfit
//!
//! Keras-style `model.fit` in Rust, on any GPU through wgpu compute shaders (Vulkan, Metal,
//! DX12, GL), with a CPU reference backend that every kernel is checked against.
//!
//! This crate currently provides the engine spine: [`Device`] selection, [`Tensor`]s on a
//! device, per-batch shape validation with [`InputSpec`], and the core ops in [`ops`], each a
//! WGSL kernel with a CPU twin.
//!
//! ```
//! use wgfit::prelude::*;
//! let device = Device::cpu();
//! let a = Tensor::from_vec(&device, [2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let b = Tensor::from_vec(&device, [3, 1], vec![1.0, 0.0, -1.0])?;
//! let c = ops::matmul::matmul(&a, &b, Transpose::None)?;
//! assert_eq!(c.to_vec_blocking()?, vec![-2.0, -2.0]);
//! # Ok::<(), wgfit::Error>(())
//! ```

pub mod activation;
pub mod device;
pub mod error;
pub mod ops;
pub mod shape;
pub mod tensor;

pub use activation::Activation;
pub use device::{Backend, Device, DeviceInfo, GpuContext, GpuOptions};
pub use error::{Error, Result, ShapeError};
pub use shape::{stack_samples, InputSpec, Shape};
pub use tensor::{DType, Tensor};

/// The names most programs need.
pub mod prelude {
    pub use crate::ops;
    pub use crate::ops::matmul::Transpose;
    pub use crate::{Activation, Device, Error, InputSpec, Result, Shape, Tensor};
}
