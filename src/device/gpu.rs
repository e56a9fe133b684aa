//! The wgpu context: adapter choice, one pending command encoder, pipelines built once and
//! cached, pooled buffers, blocking readback, and wgpu errors captured as `Error::Device`.
//!
//! Every op records its dispatch into the one pending encoder; nothing is submitted until
//! someone calls `flush` (a training step does so once) or reads a result back. Queue writes
//! run before the commands of the submit they precede, which is why `write` flushes first
//! and the pool only recycles released buffers after a submit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::DeviceInfo;
use super::binding::{Bindings, Pipeline};
use super::options::{GpuFeatures, GpuOptions, SubgroupUse, WANTED_FEATURES};
use super::params::ParamArenas;
use super::pool::BufferPool;
use super::recorder::Recorder;
use crate::error::{Error, Result};

/// Counters for measuring step overhead, from [`GpuContext::counters`]. Take two snapshots
/// and subtract to count what one training step or one op costs.
///
/// ```
/// use wgfit::{Device, GpuCounters};
/// assert_eq!(GpuCounters::default().dispatches, 0);
/// // Only a GPU device has counters.
/// let counters: Option<GpuCounters> = Device::cpu().gpu_context().map(|ctx| ctx.counters());
/// assert_eq!(counters, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuCounters {
    /// Compute dispatches recorded (one per op on the GPU; one per step for the LSTM).
    pub dispatches: u64,
    /// Queue submits (a training step does one; every readback flushes pending work too).
    pub submits: u64,
    /// Blocking readbacks that drain the GPU, waiting for the newest submit (so the GPU
    /// idles until the host records more): `to_vec_blocking` and friends, and the training
    /// loop's read of its sums at the end of each epoch.
    pub readbacks: u64,
    /// Readbacks waited for while a later submit kept the GPU busy: the batch losses a
    /// batch-end callback gets, a step late. (Each readback counts in one of the two by
    /// where its copy sits, whether or not it had arrived by the time it was asked for.)
    pub overlapped_readbacks: u64,
    /// Submits not yet known to have finished: `flush` keeps at most two (after submitting
    /// step N it waits for step N - 2).
    pub in_flight: u64,
    /// Bytes held by the buffer pool (tensors alive, plus free buffers kept for reuse) and
    /// by the arenas that hold dispatches' parameters (256 KiB per 1 024 dispatches of the
    /// largest submit so far).
    pub pooled_bytes: u64,
}

/// A wgpu device and queue with wgfit's pipelines, buffer pool and pending work.
///
/// Reached through [`Device::gpu_context`](crate::Device::gpu_context); apps that run their
/// own wgpu passes on wgfit's buffers use [`wgpu_device`](GpuContext::wgpu_device) and
/// [`wgpu_queue`](GpuContext::wgpu_queue) (and [`Tensor::wgpu_buffer`](crate::Tensor::wgpu_buffer)).
///
/// ```
/// use wgfit::Device;
/// let device = Device::cpu();
/// // The CPU reference has no wgpu context; on a GPU device this reports its counters.
/// let submits = device.gpu_context().map_or(0, |ctx| ctx.counters().submits);
/// assert_eq!(submits, 0);
/// assert!(device.gpu_context().is_none());
/// ```
pub struct GpuContext {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    pub(super) info: DeviceInfo,
    pub(super) device_type: wgpu::DeviceType,
    pub(super) features: GpuFeatures,
    pub(super) limits: wgpu::Limits,
    pub(super) max_workgroups: u32,
    pub(super) poison: bool,
    pub(super) encoder: Mutex<Option<Recorder>>,
    /// The pending encoder's dispatch parameters (locked only with `encoder` held).
    pub(super) params: Mutex<ParamArenas>,
    pub(super) pool: Mutex<BufferPool>,
    pub(super) modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    pub(super) pipelines: Mutex<HashMap<(&'static str, &'static str), Pipeline>>,
    /// Bind group layouts and cached bind groups (`binding.rs`).
    pub(super) bindings: Mutex<Bindings>,
    pub(super) lost: Arc<Mutex<Option<String>>>,
    pub(super) uncaptured: Arc<Mutex<Vec<String>>>,
    pub(super) dispatches: AtomicU64,
    pub(super) submits: AtomicU64,
    pub(super) readbacks: AtomicU64,
    pub(super) overlapped_readbacks: AtomicU64,
    /// Submits not yet known to be done: (number, index), oldest first, at most
    /// `readback::MAX_IN_FLIGHT`.
    pub(super) in_flight: Mutex<VecDeque<(u64, wgpu::SubmissionIndex)>>,
    /// The latest submits, (number, index), for readbacks to wait on their own.
    pub(super) recent: Mutex<VecDeque<(u64, wgpu::SubmissionIndex)>>,
    /// The newest submit known to be done (set by the queue's work-done callbacks).
    pub(super) completed: Arc<AtomicU64>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let backend = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (kind, backend)
}

/// The best adapter among `backends` by [`rank`]. GL is searched only when it could win, that
/// is when no native adapter (Vulkan, Metal, DX12, WebGPU) is a discrete GPU: creating a GL
/// instance starts EGL, which is wasted work (and, on some systems, warnings on stderr) when a
/// native discrete GPU will be chosen anyway.
fn best_adapter(backends: wgpu::Backends) -> Option<wgpu::Adapter> {
    let search = |among: wgpu::Backends| {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        desc.backends &= among;
        if desc.backends.is_empty() {
            return None;
        }
        let instance = wgpu::Instance::new(desc);
        pollster::block_on(instance.enumerate_adapters(among))
            .into_iter()
            .min_by_key(|a| rank(&a.get_info()))
    };
    let native = search(backends.difference(wgpu::Backends::GL));
    if native.as_ref().is_some_and(|a| rank(&a.get_info()).0 == 0) {
        return native;
    }
    let gl = search(backends.intersection(wgpu::Backends::GL));
    // On equal device types the native adapter is first and ranks first.
    native
        .into_iter()
        .chain(gl)
        .min_by_key(|a| rank(&a.get_info()))
}

impl GpuContext {
    /// Opens the best adapter among `backends` (discrete, then integrated, virtual, software;
    /// native APIs before GL; GL is not searched when a native discrete GPU exists).
    /// `WGPU_BACKEND` narrows the search further.
    ///
    /// # Errors
    /// [`Error::Config`] when no adapter is found; [`Error::Device`] when it cannot be opened
    /// or its limits are too small for the kernels (each one named).
    pub fn new(backends: wgpu::Backends, options: GpuOptions) -> Result<GpuContext> {
        let adapter = best_adapter(backends).ok_or_else(|| {
                Error::Config(format!(
                    "wgpu found no adapter for {backends:?} (on Linux without a GPU, install mesa-vulkan-drivers for a software Vulkan adapter)"
                ))
            })?;
        let info = adapter.get_info();
        let name = DeviceInfo::from_adapter(&info).to_string();
        if !options.ops_only {
            super::limits::check(&name, &adapter.limits())?;
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("wgfit"),
            required_features: adapter.features() & WANTED_FEATURES,
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::Performance,
            ..Default::default()
        }))
        .map_err(|e| Error::device(&name, format!("could not open the device: {e}")))?;
        let ctx = Self::build(device, queue, options);
        let uncaptured = ctx.uncaptured.clone();
        ctx.device
            .on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                lock(&uncaptured).push(e.to_string());
            }));
        let lost = ctx.lost.clone();
        ctx.device.set_device_lost_callback(move |reason, message| {
            *lock(&lost) = Some(format!("{reason:?}: {message}"));
        });
        Ok(ctx)
    }

    /// Adopts an app's device and queue; installs no handlers on them (they are the app's).
    /// [`Error::Device`] naming each limit below what the kernels need.
    pub fn adopt(
        device: wgpu::Device,
        queue: wgpu::Queue,
        options: GpuOptions,
    ) -> Result<GpuContext> {
        let name = DeviceInfo::from_adapter(&device.adapter_info()).to_string();
        if !options.ops_only {
            super::limits::check(&name, &device.limits())?;
        }
        Ok(Self::build(device, queue, options))
    }

    fn build(device: wgpu::Device, queue: wgpu::Queue, options: GpuOptions) -> GpuContext {
        let limits = device.limits();
        let max_workgroups = options
            .max_workgroups_per_dim
            .map_or(limits.max_compute_workgroups_per_dimension, |m| {
                m.clamp(1, limits.max_compute_workgroups_per_dimension)
            });
        let adapter = device.adapter_info();
        let granted = device.features();
        let subgroups = granted.contains(wgpu::Features::SUBGROUP);
        let features = GpuFeatures {
            subgroups,
            shader_f16: granted.contains(wgpu::Features::SHADER_F16),
            subgroup_sizes: (adapter.subgroup_min_size, adapter.subgroup_max_size),
            subgroup_use: if subgroups {
                options.subgroups
            } else {
                SubgroupUse::Off
            },
        };
        GpuContext {
            info: DeviceInfo::from_adapter(&adapter),
            device_type: adapter.device_type,
            features,
            device,
            queue,
            limits,
            max_workgroups,
            poison: options.poison_outputs,
            encoder: Mutex::new(None),
            params: Mutex::new(ParamArenas::default()),
            pool: Mutex::new(BufferPool::default()),
            modules: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            bindings: Mutex::new(Bindings::default()),
            lost: Arc::new(Mutex::new(None)),
            uncaptured: Arc::new(Mutex::new(Vec::new())),
            dispatches: AtomicU64::new(0),
            submits: AtomicU64::new(0),
            readbacks: AtomicU64::new(0),
            overlapped_readbacks: AtomicU64::new(0),
            in_flight: Mutex::new(VecDeque::new()),
            recent: Mutex::new(VecDeque::new()),
            completed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Adapter name, backend and type.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The optional features the device was opened with (subgroups, shader-f16) and what the
    /// kernels do with them.
    pub fn features(&self) -> GpuFeatures {
        self.features
    }

    /// Whether ops run their subgroup variants: never without the feature or with
    /// [`SubgroupUse::Off`]; always with [`SubgroupUse::Always`]; under
    /// [`SubgroupUse::Auto`], where the op's rule `helps` says so for this adapter type.
    pub(crate) fn use_subgroups(&self, helps: impl FnOnce(wgpu::DeviceType) -> bool) -> bool {
        match self.features.subgroup_use {
            SubgroupUse::Off => false,
            SubgroupUse::Always => true,
            SubgroupUse::Auto => helps(self.device_type),
        }
    }

    /// The adapter's type: software adapters cut long shader loops short, which the ops
    /// work around (`ops::loop_ranges`).
    pub(crate) fn device_type(&self) -> wgpu::DeviceType {
        self.device_type
    }

    /// The device's limits (as granted: the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The wgpu device (for apps that want to run their own passes on wgfit's buffers).
    pub fn wgpu_device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn wgpu_queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Dispatch, submit and readback counts so far, and the pool's size.
    pub fn counters(&self) -> GpuCounters {
        GpuCounters {
            dispatches: self.dispatches.load(Ordering::Relaxed),
            submits: self.submits.load(Ordering::Relaxed),
            readbacks: self.readbacks.load(Ordering::Relaxed),
            overlapped_readbacks: self.overlapped_readbacks.load(Ordering::Relaxed),
            in_flight: lock(&self.in_flight).len() as u64,
            pooled_bytes: lock(&self.pool).allocated_bytes + lock(&self.params).bytes(),
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> Error {
        Error::device(self.info.to_string(), message)
    }

    pub(super) fn check_health(&self) -> Result<()> {
        if let Some(reason) = lock(&self.lost).clone() {
            return Err(self.error(format!("device lost ({reason})")));
        }
        let mut errs = lock(&self.uncaptured);
        if !errs.is_empty() {
            let all = errs.drain(..).collect::<Vec<_>>().join("; ");
            return Err(self.error(all));
        }
        Ok(())
    }

    /// Runs `f` inside validation and out-of-memory error scopes and returns what they caught.
    pub(super) fn scoped<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(validation.pop());
        let o = pollster::block_on(oom.pop());
        if let Some(e) = v.or(o) {
            return Err(self.error(e.to_string()));
        }
        self.check_health()?;
        Ok(out)
    }

    /// Submits the pending commands (one submit). It does not wait for them, only, when
    /// more than two submits would then be running, for the oldest of them: the host stays
    /// at most two steps ahead of the GPU, so work never queues without bound.
    ///
    /// # Errors
    /// [`Error::Device`] for a validation error, out of memory or a lost device, whether
    /// caught now or left by earlier work.
    pub fn flush(&self) -> Result<()> {
        // The lock is held through the submit: were it released after `take`, another
        // thread's flush could submit later commands (say, a readback's copy) first.
        let mut guard = lock(&self.encoder);
        let result = match guard.take() {
            Some(recorder) => {
                let n = self.submits.fetch_add(1, Ordering::Relaxed) + 1;
                self.scoped(|| {
                    // The dispatches' parameters go up first: queue writes land before the
                    // commands of the submit that follows them.
                    lock(&self.params).upload(&self.queue);
                    self.queue.submit([recorder.finish()])
                })
                .map(|index| self.track_submit(n, index))
            }
            None => {
                // Slots taken by dispatches that failed before reaching an encoder.
                lock(&self.params).upload(&self.queue);
                self.check_health().map(|()| None)
            }
        };
        lock(&self.pool).recycle_pending();
        drop(guard);
        // Waited for with the encoder free, so other threads go on recording meanwhile.
        match result? {
            Some(oldest) => self.wait_for_index(oldest),
            None => Ok(()),
        }
    }

    /// Submits pending work and blocks until the GPU has finished all of it.
    ///
    /// # Errors
    /// As [`flush`](GpuContext::flush), and when waiting for the GPU fails.
    pub fn wait_idle_blocking(&self) -> Result<()> {
        self.flush()?;
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| self.error(format!("waiting for the GPU: {e}")))?;
        lock(&self.in_flight).clear();
        self.check_health()
    }
}
