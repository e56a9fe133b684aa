//! `Tensor`: a shape, a dtype and storage on one device (host memory or a wgpu buffer).
//!
//! Clones share storage (like views in PyTorch): an in-place op such as an optimizer update
//! is seen through every clone. Upload happens in the constructors; readback is explicit and
//! says that it blocks (`to_vec_blocking`).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};

use crate::device::{Device, GpuBuffer};
use crate::error::{Error, Result, ShapeError};
use crate::shape::{Shape, check_numel};

/// Element type of a tensor.
///
/// ```
/// use wgfit::{DType, Device, Tensor};
/// let ids = Tensor::from_u32(&Device::cpu(), [3], vec![4, 0, 2])?;
/// assert_eq!(ids.dtype(), DType::U32);
/// assert_eq!(ids.to_u32_vec_blocking()?, vec![4, 0, 2]);
/// assert!(ids.to_vec_blocking().is_err()); // f32 readback of a u32 tensor
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float: activations, weights, gradients.
    F32,
    /// 32-bit unsigned integer: token ids, class labels.
    U32,
}

/// Host-side data of a CPU tensor.
#[derive(Debug, Clone)]
pub(crate) enum CpuData {
    F32(Vec<f32>),
    U32(Vec<u32>),
}

impl Drop for CpuData {
    // Large f32 buffers go back to the CPU device's pool for the next op to reuse.
    fn drop(&mut self) {
        if let CpuData::F32(v) = self {
            crate::device::cpu_pool::give(std::mem::take(v));
        }
    }
}

pub(crate) enum Storage {
    Cpu(RwLock<CpuData>),
    Gpu(GpuBuffer),
}

/// An n-dimensional array on a [`Device`].
///
/// Row-major like a NumPy array, but it lives on a device: host memory for
/// [`Device::cpu`], a wgpu buffer for a GPU. Clones (and [`reshape`](Tensor::reshape)s)
/// share storage, so an in-place update such as
/// [`write_from_slice`](Tensor::write_from_slice) is seen through all of them. Reading back
/// is explicit: [`to_vec_blocking`](Tensor::to_vec_blocking),
/// [`to_array_blocking`](Tensor::to_array_blocking).
///
/// ```
/// use wgfit::{Device, Tensor};
/// let t = Tensor::from_vec(&Device::cpu(), [2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// assert_eq!(t.dims(), &[2, 3]);
/// assert_eq!(t.to_vec_blocking()?[4], 5.0);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor {
    shape: Shape,
    dtype: DType,
    device: Device,
    storage: Arc<Storage>,
    /// The values of a u32 tensor uploaded from the host (token ids), kept so that host-side
    /// work on them (grouping an Embedding's gradient by token) needs no readback.
    host_ids: Option<Arc<Vec<u32>>>,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor({} {:?} on {})",
            self.shape,
            self.dtype,
            self.device.info()
        )
    }
}

impl Tensor {
    /// A f32 tensor from row-major values.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data.len()` is not the shape's element count;
    /// [`Error::Device`] when the GPU upload fails.
    pub fn from_vec(device: &Device, shape: impl Into<Shape>, data: Vec<f32>) -> Result<Tensor> {
        let shape = shape.into();
        check_numel(shape.dims(), data.len())?;
        let storage = match device {
            Device::Cpu => Storage::Cpu(RwLock::new(CpuData::F32(data))),
            Device::Gpu(ctx) => Storage::Gpu(ctx.upload(bytemuck::cast_slice(&data))?),
        };
        Ok(Self::with_storage(device, shape, DType::F32, storage))
    }

    /// A u32 tensor (token ids, labels) from row-major values.
    ///
    /// # Errors
    /// As [`from_vec`](Tensor::from_vec).
    pub fn from_u32(device: &Device, shape: impl Into<Shape>, data: Vec<u32>) -> Result<Tensor> {
        let shape = shape.into();
        check_numel(shape.dims(), data.len())?;
        match device {
            Device::Cpu => {
                let storage = Storage::Cpu(RwLock::new(CpuData::U32(data)));
                Ok(Self::with_storage(device, shape, DType::U32, storage))
            }
            Device::Gpu(ctx) => {
                let storage = Storage::Gpu(ctx.upload(bytemuck::cast_slice(&data))?);
                let mut t = Self::with_storage(device, shape, DType::U32, storage);
                t.host_ids = Some(Arc::new(data));
                Ok(t)
            }
        }
    }

    /// A f32 tensor from any ndarray array (copied in logical, row-major order).
    ///
    /// ```
    /// use wgfit::{Device, Tensor};
    /// let a = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
    /// let t = Tensor::from_array(&Device::cpu(), &a.t())?; // a transposed view
    /// assert_eq!(t.to_vec_blocking()?, vec![1.0, 3.0, 2.0, 4.0]);
    /// assert_eq!(t.to_array_blocking()?, a.t().into_dyn());
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn from_array<S, D>(device: &Device, array: &ArrayBase<S, D>) -> Result<Tensor>
    where
        S: Data<Elem = f32>,
        D: Dimension,
    {
        Self::from_vec(device, array.shape(), array.iter().copied().collect())
    }

    /// A f32 tensor of zeros.
    pub fn zeros(device: &Device, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        let n = shape.numel();
        Self::from_vec(device, shape, crate::device::cpu_pool::zeros(n))
    }

    pub(crate) fn with_storage(
        device: &Device,
        shape: Shape,
        dtype: DType,
        storage: Storage,
    ) -> Tensor {
        Tensor {
            shape,
            dtype,
            device: device.clone(),
            storage: Arc::new(storage),
            host_ids: None,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dims, outermost first.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device holding the data.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The same data under another shape with as many elements (no copy; shares storage).
    ///
    /// # Errors
    /// [`Error::Shape`] when the element counts differ.
    ///
    /// ```
    /// use wgfit::{Device, Tensor};
    /// let t = Tensor::zeros(&Device::cpu(), [2, 3])?;
    /// let flat = t.reshape([6])?;
    /// assert!(flat.shares_storage(&t));
    /// assert!(matches!(t.reshape([4]), Err(wgfit::Error::Shape(_))));
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.numel() != self.numel() {
            return Err(ShapeError::new(
                shape.dims().iter().map(|&d| Some(d)).collect(),
                self.dims().to_vec(),
            )
            .because(format!("cannot reshape {} elements", self.numel()))
            .into());
        }
        Ok(Tensor {
            shape,
            ..self.clone()
        })
    }

    /// Copies a f32 tensor back to the host (blocks until the GPU is done).
    ///
    /// # Errors
    /// [`Error::Data`] for a u32 tensor; [`Error::Device`] when the GPU fails.
    pub fn to_vec_blocking(&self) -> Result<Vec<f32>> {
        self.expect_dtype(DType::F32, "to_vec_blocking")?;
        match &*self.storage {
            Storage::Cpu(data) => match &*read(data) {
                CpuData::F32(v) => Ok(v.clone()),
                CpuData::U32(_) => unreachable!("dtype checked above"),
            },
            Storage::Gpu(buf) => {
                let bytes = buf.ctx().read_blocking(buf)?;
                Ok(bytemuck::cast_slice::<u8, f32>(&bytes)[..self.numel()].to_vec())
            }
        }
    }

    /// Copies a u32 tensor back to the host (blocks until the GPU is done).
    ///
    /// # Errors
    /// [`Error::Data`] for a f32 tensor; [`Error::Device`] when the GPU fails.
    pub fn to_u32_vec_blocking(&self) -> Result<Vec<u32>> {
        self.expect_dtype(DType::U32, "to_u32_vec_blocking")?;
        match &*self.storage {
            Storage::Cpu(data) => match &*read(data) {
                CpuData::U32(v) => Ok(v.clone()),
                CpuData::F32(_) => unreachable!("dtype checked above"),
            },
            Storage::Gpu(buf) => {
                let bytes = buf.ctx().read_blocking(buf)?;
                Ok(bytemuck::cast_slice::<u8, u32>(&bytes)[..self.numel()].to_vec())
            }
        }
    }

    /// Copies a f32 tensor back to the host as an ndarray array (blocks).
    pub fn to_array_blocking(&self) -> Result<ArrayD<f32>> {
        let v = self.to_vec_blocking()?;
        ArrayD::from_shape_vec(IxDyn(self.dims()), v)
            .map_err(|e| Error::Data(format!("building an array from a tensor: {e}")))
    }

    /// Overwrites the values of a f32 tensor in place (every clone sees them).
    ///
    /// # Errors
    /// [`Error::Data`] for a u32 tensor; [`Error::Shape`] when `values.len()` is not
    /// [`numel`](Tensor::numel).
    ///
    /// ```
    /// use wgfit::{Device, Tensor};
    /// let w = Tensor::zeros(&Device::cpu(), [2])?;
    /// let alias = w.clone();
    /// w.write_from_slice(&[1.0, 2.0])?;
    /// assert_eq!(alias.to_vec_blocking()?, vec![1.0, 2.0]);
    /// assert!(w.write_from_slice(&[1.0]).is_err());
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn write_from_slice(&self, values: &[f32]) -> Result<()> {
        self.expect_dtype(DType::F32, "write_from_slice")?;
        check_numel(self.dims(), values.len())?;
        match &*self.storage {
            Storage::Cpu(data) => {
                *write(data) = CpuData::F32(values.to_vec());
                Ok(())
            }
            Storage::Gpu(buf) => buf.ctx().write(buf, bytemuck::cast_slice(values)),
        }
    }

    /// True when both tensors are views of one storage (a clone or a reshape).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// The wgpu buffer holding a GPU tensor and the bytes it uses (from offset 0), for
    /// passes of an app's own on the same device; `None` on the CPU.
    pub fn wgpu_buffer(&self) -> Option<(&wgpu::Buffer, u64)> {
        self.gpu_buffer()
            .map(|b| (b.raw(), self.numel() as u64 * 4))
    }

    pub(crate) fn expect_dtype(&self, dtype: DType, what: &str) -> Result<()> {
        if self.dtype != dtype {
            return Err(Error::Data(format!(
                "{what} needs a {dtype:?} tensor, got {:?} {}",
                self.dtype, self.shape
            )));
        }
        Ok(())
    }

    /// The GPU buffer, if this tensor lives on a GPU.
    pub(crate) fn gpu_buffer(&self) -> Option<&GpuBuffer> {
        match &*self.storage {
            Storage::Gpu(b) => Some(b),
            Storage::Cpu(_) => None,
        }
    }

    /// Host f32 data for the CPU twins (`None` on a GPU tensor or for u32).
    pub(crate) fn cpu_f32(&self) -> Option<CpuRead<'_>> {
        match &*self.storage {
            Storage::Cpu(data) => Some(CpuRead(read(data))),
            Storage::Gpu(_) => None,
        }
    }

    /// Host u32 data (token ids, indices) of a CPU tensor.
    pub(crate) fn cpu_u32(&self) -> Option<Vec<u32>> {
        match &*self.storage {
            Storage::Cpu(data) => match &*read(data) {
                CpuData::U32(v) => Some(v.clone()),
                CpuData::F32(_) => None,
            },
            Storage::Gpu(_) => None,
        }
    }

    /// The values of a u32 tensor on the host: a CPU tensor's own, the copy a GPU tensor made
    /// from host values keeps, or (for one a kernel wrote) a blocking readback.
    pub(crate) fn host_u32(&self) -> Result<Vec<u32>> {
        if let Some(v) = self.cpu_u32() {
            return Ok(v);
        }
        match &self.host_ids {
            Some(ids) => Ok(ids.to_vec()),
            None => self.to_u32_vec_blocking(),
        }
    }

    /// Host data for in-place CPU updates (optimizer states).
    pub(crate) fn cpu_write(&self) -> Option<RwLockWriteGuard<'_, CpuData>> {
        match &*self.storage {
            Storage::Cpu(data) => Some(write(data)),
            Storage::Gpu(_) => None,
        }
    }
}

/// A read guard over a CPU tensor's data.
pub(crate) struct CpuRead<'a>(RwLockReadGuard<'a, CpuData>);

impl CpuRead<'_> {
    pub(crate) fn f32(&self) -> &[f32] {
        match &*self.0 {
            CpuData::F32(v) => v,
            CpuData::U32(_) => &[],
        }
    }
}

fn read(lock: &RwLock<CpuData>) -> RwLockReadGuard<'_, CpuData> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write(lock: &RwLock<CpuData>) -> RwLockWriteGuard<'_, CpuData> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}
