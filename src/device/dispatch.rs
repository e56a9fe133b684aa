//! Kernels: WGSL modules and pipelines built once per device and cached, and dispatches
//! recorded into the pending encoder with grids folded to fit the per-dimension limit.

use std::sync::atomic::Ordering;

use super::GpuBuffer;
use super::binding::{self, Pipeline, Signature};
use super::gpu::{GpuContext, lock};
use super::recorder::Recorder;
use crate::error::{Error, Result};

/// One WGSL module: its name (as in `shaders/{name}.wgsl`), its source, the layout of the
/// `Params` uniform its entry points read at binding 0, and its entry points with the number
/// of storage buffers each binds (bindings 1..=n). A kernel named `*_subgroup` uses subgroup
/// operations and is only built on a device opened with `wgpu::Features::SUBGROUP` (naga 30
/// takes no `enable subgroups;` directive to say so); ops choose such kernels at dispatch
/// time.
///
/// `params` and `entries` are checked against the WGSL by `tests/shader_params.rs` (naga), and
/// against every dispatch at run time, so neither side can drift from the other unseen.
#[doc(hidden)]
#[derive(Debug)]
pub struct Kernel {
    /// The module's name, e.g. `"adam"`.
    pub name: &'static str,
    /// The WGSL source, shared fragments included.
    pub source: &'static str,
    /// The Rust `Params` struct uploaded at binding 0 (declared with the ops' `params!`).
    pub params: ParamsLayout,
    /// Each entry point and how many storage buffers a dispatch of it binds.
    pub entries: &'static [(&'static str, usize)],
    /// The kernel bounds-checks every index it uses and writes every workgroup-memory cell
    /// before reading it, so wgpu's own runtime checks (index clamping, loop bounding) and
    /// the zeroing of workgroup memory are skipped for it. Only kernels whose edge tests
    /// prove both may say so; on WebGPU in a browser the checks stay, whatever this says.
    pub trusted: bool,
}

/// A `#[repr(C)]` uniform struct's fields (name, byte offset, Rust type) in order, and its
/// size.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamsLayout {
    /// Field names, byte offsets and types (`"u32"`, `"f32"`), in declaration order.
    pub fields: &'static [(&'static str, usize, &'static str)],
    /// `size_of` the struct.
    pub size: usize,
}

impl Kernel {
    /// The optional features this kernel needs (subgroups, by its name).
    fn needs(&self) -> wgpu::Features {
        if self.name.ends_with("_subgroup") {
            wgpu::Features::SUBGROUP
        } else {
            wgpu::Features::empty()
        }
    }
}

impl GpuContext {
    fn pipeline(&self, kernel: &Kernel, entry: &'static str, buffers: usize) -> Result<Pipeline> {
        if let Some(p) = lock(&self.pipelines).get(&(kernel.name, entry)) {
            return Ok(p.clone());
        }
        let missing = kernel.needs() - self.device.features();
        if !missing.is_empty() {
            // An op chose a kernel this device cannot build; naga would reject its source.
            return Err(self.error(format!(
                "kernel {} needs {missing:?}, which this device was not opened with",
                kernel.name
            )));
        }
        let context = |e: Error| match e {
            Error::Device { adapter, message } => Error::Device {
                adapter,
                message: format!("building kernel {}::{entry}: {message}", kernel.name),
            },
            other => other,
        };
        let module = {
            let mut modules = lock(&self.modules);
            match modules.get(kernel.name) {
                Some(m) => m.clone(),
                None => {
                    let m = self
                        .scoped(|| {
                            let desc = wgpu::ShaderModuleDescriptor {
                                label: Some(kernel.name),
                                source: wgpu::ShaderSource::Wgsl(kernel.source.into()),
                            };
                            if kernel.trusted {
                                // SAFETY: a trusted kernel checks its own indices against its
                                // buffers' lengths and never loops unboundedly (see the field's
                                // documentation and each such kernel's edge tests).
                                unsafe {
                                    self.device.create_shader_module_trusted(
                                        desc,
                                        wgpu::ShaderRuntimeChecks::unchecked(),
                                    )
                                }
                            } else {
                                self.device.create_shader_module(desc)
                            }
                        })
                        .map_err(context)?;
                    modules.insert(kernel.name, m.clone());
                    m
                }
            }
        };
        let signature = Signature::of(kernel.source, buffers, kernel.params.size)
            .ok_or_else(|| self.error(format!("kernel {}::{entry} binds {buffers} buffers, more than wgfit's layouts describe", kernel.name)))?;
        let layout = self
            .scoped(|| lock(&self.bindings).layout(&self.device, signature))
            .map_err(context)?;
        let raw = self
            .scoped(|| {
                self.device
                    .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: Some(&layout.pipeline),
                        module: &module,
                        entry_point: Some(entry),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            zero_initialize_workgroup_memory: !kernel.trusted,
                            ..Default::default()
                        },
                        cache: None,
                    })
            })
            .map_err(context)?;
        let pipeline = Pipeline { raw, layout };
        lock(&self.pipelines).insert((kernel.name, entry), pipeline.clone());
        Ok(pipeline)
    }

    /// Splits `n` workgroups into an (x, y) grid within the per-dimension limit. Kernels
    /// recover the linear index as `wid.x + wid.y * nwg.x` and ignore indices `>= n`.
    fn grid(&self, n: u64) -> Result<(u32, u32)> {
        let x_max = u64::from(self.max_workgroups);
        let y_max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        if n <= x_max {
            return Ok((n as u32, 1));
        }
        let y = n.div_ceil(x_max);
        if y > y_max {
            return Err(self.error(format!(
                "{n} workgroups exceed {x_max} x {y_max}, the most one dispatch can address"
            )));
        }
        Ok((x_max as u32, y as u32))
    }

    /// Records one dispatch of `kernel::entry` over `workgroups` workgroups (linear count),
    /// with `params` as a uniform at binding 0 and `buffers` at bindings 1..=n. Entry points
    /// of one file that need fewer buffers use a prefix of the bindings.
    ///
    /// Errors are caught before anything reaches the shared encoder, so an invalid dispatch
    /// never poisons the work pending beside it: the pipeline and each new bind group are
    /// built under error scopes, and what wgpu would only check when the encoder is finished
    /// (one buffer bound both read-only and writable, the workgroup grid, the parameters'
    /// dynamic offset) is checked here, or holds by construction. A dispatch whose pipeline
    /// and bind group are cached pushes no error scope at all.
    pub(crate) fn dispatch(
        &self,
        kernel: &Kernel,
        entry: &'static str,
        buffers: &[&GpuBuffer],
        params: &[u8],
        workgroups: u64,
    ) -> Result<()> {
        let declared = kernel.entries.iter().find(|(e, _)| *e == entry);
        if declared.map(|&(_, n)| n) != Some(buffers.len()) || params.len() != kernel.params.size {
            // An op and its kernel's declaration disagree: a bug in wgfit, caught before wgpu
            // sees a bind group that does not fit.
            return Err(self.error(format!(
                "kernel {}::{entry} dispatched with {} buffers and {} bytes of parameters, but \
                 declared with {:?} buffers and {} bytes",
                kernel.name,
                buffers.len(),
                params.len(),
                declared.map(|&(_, n)| n),
                kernel.params.size
            )));
        }
        if workgroups == 0 {
            return Ok(());
        }
        let (x, y) = self.grid(workgroups)?;
        let pipeline = self.pipeline(kernel, entry, buffers.len())?;
        let signature = pipeline.layout.signature;
        for (i, a) in buffers.iter().enumerate() {
            for (j, b) in buffers.iter().enumerate().skip(i + 1) {
                if a.raw() == b.raw() && !(signature.read_only(i) && signature.read_only(j)) {
                    // wgpu would only say so when the encoder is finished, failing the whole
                    // submit.
                    return Err(self.error(format!(
                        "kernel {}::{entry} binds one buffer at bindings {} and {}, and writes \
                         it through one of them",
                        kernel.name,
                        i + 1,
                        j + 1
                    )));
                }
            }
        }
        let mut padded = params.to_vec();
        padded.resize(signature.uniform as usize, 0);
        let bindings: Vec<(&wgpu::Buffer, u64)> =
            buffers.iter().map(|b| (b.raw(), b.bytes)).collect();
        // Held through the recording: the parameters' slot belongs to the pending encoder,
        // which no other thread may submit before this dispatch is in it.
        let mut guard = lock(&self.encoder);
        let align = u64::from(self.limits.min_uniform_buffer_offset_alignment);
        let (arena, offset) = lock(&self.params).slot(&self.device, align, &padded);
        let cached = lock(&self.bindings).get(&pipeline.layout, &arena, &bindings);
        let bind_group = match cached {
            Some(group) => group,
            None => {
                // Validated on its own, before anything touches the shared encoder.
                let group = self.scoped(|| {
                    binding::create(&self.device, &pipeline.layout, &arena, &bindings)
                })?;
                lock(&self.bindings).insert(&pipeline.layout, &arena, &bindings, group.clone());
                group
            }
        };
        let pass = guard
            .get_or_insert_with(|| Recorder::new(&self.device))
            .pass();
        pass.set_pipeline(&pipeline.raw);
        // Slots are aligned and lie inside a 256 KiB arena (`params.rs`).
        pass.set_bind_group(0, &bind_group, &[offset as u32]);
        pass.dispatch_workgroups(x, y, 1);
        drop(guard);
        self.dispatches.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
