//! The device limits every wgfit kernel needs, checked when a device is opened or adopted, so
//! a device too small for the kernels (WebGL2, a GL ES device with four storage buffers, an
//! app's device asked for `Limits::downlevel_defaults()`) is refused at once, naming the limit,
//! instead of failing later inside a pipeline.

use crate::error::{Error, Result};

/// Each limit wgfit's kernels rely on and the least value they need: up to 8 storage buffers
/// and one uniform buffer per kernel (WebGPU's defaults), workgroups of 256 invocations
/// (`@workgroup_size(256)`, `(16, 16)`), and the fixed 8 KiB tiles of `matmul.wgsl` (the
/// kernels with larger tiles size them to the device).
fn needs(l: &wgpu::Limits) -> [(&'static str, u64, u64); 8] {
    [
        ("max_bind_groups", l.max_bind_groups.into(), 1),
        (
            "max_storage_buffers_per_shader_stage",
            l.max_storage_buffers_per_shader_stage.into(),
            8,
        ),
        (
            "max_uniform_buffers_per_shader_stage",
            l.max_uniform_buffers_per_shader_stage.into(),
            1,
        ),
        (
            "max_compute_invocations_per_workgroup",
            l.max_compute_invocations_per_workgroup.into(),
            256,
        ),
        (
            "max_compute_workgroup_size_x",
            l.max_compute_workgroup_size_x.into(),
            256,
        ),
        (
            "max_compute_workgroup_size_y",
            l.max_compute_workgroup_size_y.into(),
            16,
        ),
        (
            "max_compute_workgroups_per_dimension",
            l.max_compute_workgroups_per_dimension.into(),
            1,
        ),
        (
            "max_compute_workgroup_storage_size",
            l.max_compute_workgroup_storage_size.into(),
            8192,
        ),
    ]
}

/// [`Error::Device`] naming every limit of `adapter`'s below what the kernels need.
pub(crate) fn check(adapter: &str, limits: &wgpu::Limits) -> Result<()> {
    let short: Vec<String> = (needs(limits).into_iter())
        .filter(|&(_, has, need)| has < need)
        .map(|(name, has, need)| format!("{name} is {has}, wgfit needs {need}"))
        .collect();
    if short.is_empty() {
        return Ok(());
    }
    Err(Error::device(
        adapter,
        format!(
            "this device's limits are too small for wgfit's compute kernels: {} (request the \
             adapter's own limits, `required_limits: adapter.limits()`, or at least \
             `wgpu::Limits::default()`)",
            short.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn webgpu_defaults_pass_and_smaller_limits_are_named() {
        assert!(check("a", &wgpu::Limits::default()).is_ok());
        let err = check("gl", &wgpu::Limits::downlevel_defaults()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("max_storage_buffers_per_shader_stage is 4, wgfit needs 8"),
            "{text}"
        );
        let webgl = check("webgl", &wgpu::Limits::downlevel_webgl2_defaults()).unwrap_err();
        assert!(
            webgl
                .to_string()
                .contains("max_compute_invocations_per_workgroup is 0"),
            "{webgl}"
        );
    }
}
