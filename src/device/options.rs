//! What a GPU context is opened with: the options (poisoned outputs, dispatch folding,
//! subgroup use) and the optional wgpu features wgfit asks the adapter for.

/// Options for a GPU context, for [`Device::gpu_with`](crate::Device::gpu_with) and
/// [`Device::auto_with`](crate::Device::auto_with). The defaults are right for training;
/// the options exist for testing kernels.
///
/// ```
/// use wgfit::{Device, GpuOptions, SubgroupUse};
/// let opts = GpuOptions { poison_outputs: true, ..GpuOptions::default() };
/// assert!(opts.max_workgroups_per_dim.is_none());
/// assert!(!GpuOptions::default().poison_outputs);
/// assert_eq!(GpuOptions::default().subgroups, SubgroupUse::Auto);
/// let f32_paths_only = GpuOptions { subgroups: SubgroupUse::Off, ..GpuOptions::default() };
/// assert_eq!(f32_paths_only.subgroups, SubgroupUse::Off);
/// // Opening a GPU with them (not run here: it needs an adapter).
/// fn poisoned_gpu(opts: GpuOptions) -> wgfit::Result<Device> {
///     Device::gpu_with(opts)
/// }
/// ```
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Fill every op's freshly allocated output with NaN before the op runs, so that an
    /// element the kernel fails to write shows up in tests.
    pub poison_outputs: bool,
    /// Fold dispatches into a 2-d grid once they exceed this many workgroups (below the
    /// adapter's per-dimension limit, which stays the bound for the second dimension); tests
    /// set it low so small inputs exercise the folding that huge ones need.
    pub max_workgroups_per_dim: Option<u32>,
    /// Whether kernels with a subgroup variant run it (on an adapter that offers
    /// `wgpu::Features::SUBGROUP`; elsewhere this changes nothing).
    pub subgroups: SubgroupUse,
    /// Accept a device whose limits are below what whole models need (WebGPU's defaults: 8
    /// storage buffers per kernel, workgroups of 256), for single ops that adapt to smaller
    /// limits (matmul's tiles); a model's kernels may then fail to build. Off by default: such
    /// a device is refused when opened or adopted, each short limit named.
    pub ops_only: bool,
}

/// When the kernels that have a subgroup variant (the reductions of `reduce`, `softmax` and
/// `masked_reduce`) run it, for [`GpuOptions::subgroups`]. Without
/// `wgpu::Features::SUBGROUP` every choice runs the paths without subgroups, which stay the
/// reference GPU path.
///
/// ```
/// use wgfit::{GpuOptions, SubgroupUse};
/// assert_eq!(SubgroupUse::default(), SubgroupUse::Auto);
/// // Tests compare the two paths on one adapter:
/// let on = GpuOptions { subgroups: SubgroupUse::Always, ..GpuOptions::default() };
/// let off = GpuOptions { subgroups: SubgroupUse::Off, ..GpuOptions::default() };
/// assert_ne!(on.subgroups, off.subgroups);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubgroupUse {
    /// Each op decides by the adapter type and the shape; its rule, beside its dispatch, says
    /// what was measured where (lavapipe) and what is reasoning still to be measured (hardware
    /// GPUs).
    #[default]
    Auto,
    /// Every subgroup variant, whatever the shape and adapter (tests use this to run them).
    Always,
    /// None: softmax reduces through workgroup memory, sums run one invocation per output.
    Off,
}

/// The optional wgpu features a GPU context was opened with, from [`GpuContext::features`](crate::GpuContext::features).
/// wgfit asks for `SUBGROUP` and `SHADER_F16` wherever the adapter offers them.
///
/// ```
/// use wgfit::Device;
/// // Only a GPU device has features; on one, this prints e.g.
/// // "subgroups (8 lanes, auto), shader-f16 (unused)".
/// if let Some(ctx) = Device::cpu().gpu_context() {
///     println!("{}", ctx.features());
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuFeatures {
    /// `wgpu::Features::SUBGROUP` was granted: WGSL subgroup built-ins (`subgroupAdd`,
    /// `subgroup_size`, ...) compile here.
    pub subgroups: bool,
    /// `wgpu::Features::SHADER_F16` was granted (`enable f16;`). No kernel uses it: every
    /// tensor is f32 and f16 arithmetic (unit roundoff 2^-11) could not match the CPU
    /// reference to 1e-5.
    pub shader_f16: bool,
    /// The adapter's smallest and largest subgroup size as wgpu reports them (8 and 8 on
    /// lavapipe, 32 and 32 on NVIDIA); the kernels are correct for any size.
    pub subgroup_sizes: (u32, u32),
    /// What kernels do with subgroups: [`GpuOptions::subgroups`], or
    /// [`SubgroupUse::Off`] where the device lacks them.
    pub subgroup_use: SubgroupUse,
}

impl std::fmt::Display for GpuFeatures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subgroups {
            let (lo, hi) = self.subgroup_sizes;
            let lanes = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}..{hi}")
            };
            let used = match self.subgroup_use {
                SubgroupUse::Auto => "auto",
                SubgroupUse::Always => "always",
                SubgroupUse::Off => "off",
            };
            write!(f, "subgroups ({lanes} lanes, {used})")?;
        } else {
            f.write_str("no subgroups")?;
        }
        f.write_str(if self.shader_f16 {
            ", shader-f16 (unused)"
        } else {
            ", no shader-f16"
        })
    }
}

/// The optional features wgfit asks for when the adapter has them.
pub(super) const WANTED_FEATURES: wgpu::Features =
    wgpu::Features::SUBGROUP.union(wgpu::Features::SHADER_F16);
