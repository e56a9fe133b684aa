//! `Device`: where tensors live and ops run, either a wgpu adapter or the CPU reference.
//!
//! `Device::auto()` picks the best adapter wgpu can find and falls back to the CPU reference
//! only when there is none, saying so once. `WGFIT_DEVICE=cpu|gpu|vulkan|metal|dx12|gl`
//! overrides the choice; asking for a GPU that is not there is an error, never a fallback.

mod binding;
mod buffer;
pub(crate) mod cpu_pool;
mod dispatch;
mod flush;
mod gpu;
mod limits;
mod options;
mod params;
mod pool;
mod readback;
mod recorder;

#[cfg(test)]
mod fault_tests;

use std::fmt;
use std::sync::{Arc, Once};

pub(crate) use buffer::GpuBuffer;
#[doc(hidden)]
pub use dispatch::{Kernel, ParamsLayout};
pub(crate) use flush::FlushDenormals;
pub use gpu::{GpuContext, GpuCounters};
pub use options::{GpuFeatures, GpuOptions, SubgroupUse};
pub(crate) use readback::{MAX_IN_FLIGHT, PendingRead};

use crate::error::{Error, Result};

/// Where tensors live and ops run. Cheap to clone: clones share one GPU context.
///
/// [`Device::auto`] is what a training program usually wants; [`Device::cpu`] is the
/// deterministic reference (and what tests and these examples use). Tensors and models are
/// tied to the device they were created on, and an op refuses inputs from two devices.
///
/// ```
/// use wgfit::{Device, DeviceInfo, Tensor};
/// let device = Device::cpu();
/// assert!(!device.is_gpu() && device.gpu_context().is_none());
/// assert_eq!(device.info(), DeviceInfo::Cpu);
/// let t = Tensor::zeros(&device, [2])?;
/// assert!(!t.device().is_gpu());
/// device.synchronize_blocking()?; // a no-op on the CPU
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Clone)]
pub enum Device {
    /// The CPU reference backend: plain, deterministic f32 code that every kernel is checked
    /// against.
    Cpu,
    /// A wgpu device with its queue, pipelines and buffer pool.
    Gpu(Arc<GpuContext>),
}

/// A wgpu backend that `WGFIT_DEVICE` (or [`Device::with_backend`]) can ask for.
///
/// ```
/// use wgfit::{Backend, Device};
/// // Asking for one backend never falls back: an error if it has no adapter here.
/// fn vulkan_only() -> wgfit::Result<Device> {
///     Device::with_backend(Backend::Vulkan)
/// }
/// assert_ne!(Backend::Vulkan, Backend::Gl);
/// assert_eq!(format!("{:?}", Backend::Dx12), "Dx12");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Vulkan (Linux, Windows, Android; lavapipe without a GPU). `WGFIT_DEVICE=vulkan`.
    Vulkan,
    /// Metal (macOS, iOS). `WGFIT_DEVICE=metal`.
    Metal,
    /// Direct3D 12 (Windows). `WGFIT_DEVICE=dx12`.
    Dx12,
    /// OpenGL / OpenGL ES (the fallback of the native APIs). `WGFIT_DEVICE=gl`.
    Gl,
}

impl Backend {
    fn backends(self) -> wgpu::Backends {
        match self {
            Backend::Vulkan => wgpu::Backends::VULKAN,
            Backend::Metal => wgpu::Backends::METAL,
            Backend::Dx12 => wgpu::Backends::DX12,
            Backend::Gl => wgpu::Backends::GL,
        }
    }
}

/// What a `WGFIT_DEVICE` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Auto,
    Cpu,
    AnyGpu,
    Backend(Backend),
}

fn parse_choice(value: &str) -> Result<Choice> {
    Ok(match value.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => Choice::Auto,
        "cpu" => Choice::Cpu,
        "gpu" => Choice::AnyGpu,
        "vulkan" => Choice::Backend(Backend::Vulkan),
        "metal" => Choice::Backend(Backend::Metal),
        "dx12" => Choice::Backend(Backend::Dx12),
        "gl" => Choice::Backend(Backend::Gl),
        other => {
            return Err(Error::Config(format!(
                "WGFIT_DEVICE={other:?} is not one of cpu, gpu, vulkan, metal, dx12, gl, auto"
            )));
        }
    })
}

static FALLBACK_NOTICE: Once = Once::new();

impl Device {
    /// The best device available: `WGFIT_DEVICE` if set, else the best wgpu adapter
    /// (discrete over integrated over software), else the CPU reference (printing why, once).
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown `WGFIT_DEVICE` value, or one that names a GPU or
    /// backend this machine lacks; [`Error::Device`] when the chosen adapter fails to open.
    /// With `WGFIT_DEVICE` unset, a missing GPU is not an error.
    pub fn auto() -> Result<Device> {
        Self::auto_with(GpuOptions::default())
    }

    /// [`Device::auto`] with options for the GPU context.
    pub fn auto_with(options: GpuOptions) -> Result<Device> {
        let choice = match std::env::var("WGFIT_DEVICE") {
            Ok(v) => parse_choice(&v)?,
            Err(_) => Choice::Auto,
        };
        match choice {
            Choice::Cpu => Ok(Device::Cpu),
            Choice::AnyGpu => GpuContext::new(wgpu::Backends::all(), options).map(Device::from),
            Choice::Backend(b) => Self::with_backend_and(b, options),
            Choice::Auto => match GpuContext::new(wgpu::Backends::all(), options) {
                Ok(ctx) => Ok(Device::from(ctx)),
                Err(e) => {
                    FALLBACK_NOTICE.call_once(|| {
                        eprintln!("wgfit: no usable GPU adapter ({e}); using the CPU reference");
                    });
                    Ok(Device::Cpu)
                }
            },
        }
    }

    /// The CPU reference backend.
    pub fn cpu() -> Device {
        Device::Cpu
    }

    /// The best wgpu adapter on any backend.
    ///
    /// # Errors
    /// [`Error::Config`] when wgpu finds no adapter; [`Error::Device`] when it cannot open it.
    pub fn gpu() -> Result<Device> {
        GpuContext::new(wgpu::Backends::all(), GpuOptions::default()).map(Device::from)
    }

    /// The best adapter of one backend.
    ///
    /// # Errors
    /// [`Error::Config`] (listing the adapters that do exist) when that backend has none here.
    pub fn with_backend(backend: Backend) -> Result<Device> {
        Self::with_backend_and(backend, GpuOptions::default())
    }

    fn with_backend_and(backend: Backend, options: GpuOptions) -> Result<Device> {
        GpuContext::new(backend.backends(), options)
            .map(Device::from)
            .map_err(|e| match e {
                Error::Config(_) => Error::Config(format!(
                    "no {backend:?} adapter on this machine; adapters found: {}",
                    list_adapters()
                )),
                other => other,
            })
    }

    /// The best wgpu adapter with explicit options (tests use this to poison outputs).
    pub fn gpu_with(options: GpuOptions) -> Result<Device> {
        GpuContext::new(wgpu::Backends::all(), options).map(Device::from)
    }

    /// Adopts the wgpu device and queue of the app that embeds wgfit: wgfit records its
    /// work on that queue and leaves the app's uncaptured-error handler alone. Errors:
    /// [`Error::Device`] naming each limit of the device below what wgfit's kernels need
    /// (8 storage buffers per kernel, workgroups of 256: WebGPU's defaults); request the
    /// adapter's own limits, or at least `wgpu::Limits::default()`.
    pub fn from_wgpu(device: wgpu::Device, queue: wgpu::Queue) -> Result<Device> {
        Self::from_wgpu_with(device, queue, GpuOptions::default())
    }

    /// [`Device::from_wgpu`] with explicit options (tests use this to poison outputs).
    ///
    /// ```
    /// use wgfit::{Device, GpuOptions};
    /// // Not run here: it needs the app's device.
    /// fn adopt_poisoned(device: wgpu::Device, queue: wgpu::Queue) -> wgfit::Result<Device> {
    ///     let options = GpuOptions { poison_outputs: true, ..GpuOptions::default() };
    ///     Device::from_wgpu_with(device, queue, options)
    /// }
    /// ```
    pub fn from_wgpu_with(
        device: wgpu::Device,
        queue: wgpu::Queue,
        options: GpuOptions,
    ) -> Result<Device> {
        GpuContext::adopt(device, queue, options).map(Device::from)
    }

    /// What this device is, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) [Vulkan, Cpu]`.
    pub fn info(&self) -> DeviceInfo {
        match self {
            Device::Cpu => DeviceInfo::Cpu,
            Device::Gpu(ctx) => ctx.info().clone(),
        }
    }

    /// True for a wgpu device.
    pub fn is_gpu(&self) -> bool {
        matches!(self, Device::Gpu(_))
    }

    /// The GPU context, if this is a GPU device.
    pub fn gpu_context(&self) -> Option<&Arc<GpuContext>> {
        match self {
            Device::Gpu(ctx) => Some(ctx),
            Device::Cpu => None,
        }
    }

    /// Submits all recorded work and waits for it to finish (a no-op on the CPU).
    pub fn synchronize_blocking(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Gpu(ctx) => ctx.wait_idle_blocking(),
        }
    }

    pub(crate) fn same_as(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::Gpu(a), Device::Gpu(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Every adapter wgpu sees, as `name [Backend, Type]`, for error messages.
fn list_adapters() -> String {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let names: Vec<String> = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| DeviceInfo::from_adapter(&a.get_info()).to_string())
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

impl From<GpuContext> for Device {
    fn from(ctx: GpuContext) -> Self {
        Device::Gpu(Arc::new(ctx))
    }
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.info())
    }
}

/// A device's description: adapter name, backend and device type, or the CPU reference.
///
/// ```
/// use wgfit::{Device, DeviceInfo};
/// assert_eq!(Device::cpu().info().to_string(), "cpu reference");
/// let gpu = DeviceInfo::Gpu {
///     name: "llvmpipe".into(),
///     backend: "Vulkan".into(),
///     device_type: "Cpu".into(),
/// };
/// assert_eq!(gpu.to_string(), "llvmpipe [Vulkan, Cpu]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceInfo {
    /// The CPU reference backend.
    Cpu,
    /// A wgpu adapter.
    Gpu {
        /// The adapter's name, e.g. `NVIDIA GeForce RTX 4090` or `llvmpipe (LLVM 15.0.6, 256 bits)`.
        name: String,
        /// The wgpu backend, e.g. `Vulkan`, `Metal`.
        backend: String,
        /// wgpu's device type: `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
        device_type: String,
    },
}

impl DeviceInfo {
    pub(crate) fn from_adapter(info: &wgpu::AdapterInfo) -> Self {
        DeviceInfo::Gpu {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
        }
    }
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceInfo::Cpu => f.write_str("cpu reference"),
            DeviceInfo::Gpu {
                name,
                backend,
                device_type,
            } => write!(f, "{name} [{backend}, {device_type}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_parse_and_unknown_ones_are_config_errors() {
        assert_eq!(parse_choice("CPU").unwrap(), Choice::Cpu);
        assert_eq!(parse_choice("gl").unwrap(), Choice::Backend(Backend::Gl));
        assert_eq!(parse_choice("gpu").unwrap(), Choice::AnyGpu);
        let err = parse_choice("cuda").unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("cuda")),
            "{err}"
        );
    }
}
