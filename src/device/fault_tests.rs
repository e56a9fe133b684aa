//! wgpu errors become `Error::Device` and leave the context usable.

use std::sync::Arc;

use super::{Device, GpuContext, GpuOptions, Kernel, ParamsLayout};
use crate::error::Error;
use crate::tensor::Tensor;

fn gpu() -> Option<(Device, Arc<GpuContext>)> {
    match Device::gpu_with(GpuOptions::default()) {
        Ok(d) => {
            let ctx = d.gpu_context().cloned()?;
            Some((d, ctx))
        }
        Err(e) if std::env::var("WGFIT_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("WGFIT_REQUIRE_GPU=1 but no GPU adapter was found: {e}")
        }
        Err(e) => {
            eprintln!("!!!!! NO GPU ADAPTER ({e}): THE GPU FAULT TESTS ARE SKIPPED !!!!!");
            None
        }
    }
}

/// The parameters of this module's kernels: one `vec4<u32>` named `n`.
const VEC4_N: ParamsLayout = ParamsLayout {
    fields: &[("n", 0, "vec4<u32>")],
    size: 16,
};

/// A kernel of this module's own (the device knows no op) still runs and gives its result.
fn still_works(device: &Device) {
    let ctx = device.gpu_context().expect("a GPU device");
    let double = Kernel {
        name: "double",
        source: "@group(0) @binding(0) var<uniform> n: vec4<u32>;
                 @group(0) @binding(1) var<storage, read_write> x: array<f32>;
                 @compute @workgroup_size(1)
                 fn main(@builtin(global_invocation_id) id: vec3<u32>) {
                     if id.x < n.x { x[id.x] *= 2.0; }
                 }",
        params: VEC4_N,
        entries: &[("main", 1)],
        trusted: false,
    };
    let x = Tensor::from_vec(device, [3], vec![1.0, 2.0, 3.0]).unwrap();
    let buffer = x.gpu_buffer().expect("a GPU tensor");
    let n: [u32; 4] = [3, 0, 0, 0];
    ctx.dispatch(&double, "main", &[buffer], bytemuck::bytes_of(&n), 3)
        .unwrap();
    assert_eq!(x.to_vec_blocking().unwrap(), vec![2.0, 4.0, 6.0]);
}

#[test]
fn a_kernel_that_does_not_compile_is_a_device_error_naming_it() {
    let Some((device, ctx)) = gpu() else { return };
    let broken = Kernel {
        name: "broken",
        source: "@compute @workgroup_size(1) fn main( { }",
        params: ParamsLayout {
            fields: &[],
            size: 0,
        },
        entries: &[("main", 0)],
        trusted: false,
    };
    match ctx.dispatch(&broken, "main", &[], &[], 1) {
        Err(Error::Device { message, adapter }) => {
            assert!(message.contains("broken::main"), "{message}");
            assert_eq!(adapter, device.info().to_string());
        }
        other => panic!("expected a device error, got {other:?}"),
    }
    still_works(&device);
}

#[test]
fn a_dispatch_missing_a_binding_is_a_device_error_not_a_panic() {
    let Some((device, ctx)) = gpu() else { return };
    let kernel = Kernel {
        name: "two_buffers",
        source: "@group(0) @binding(0) var<uniform> n: vec4<u32>;
                 @group(0) @binding(1) var<storage, read_write> out: array<f32>;
                 @compute @workgroup_size(1) fn main() { out[0] = f32(n.x); }",
        params: VEC4_N,
        // Declared without its buffer, so the dispatch below reaches wgpu's validation.
        entries: &[("main", 0)],
        trusted: false,
    };
    // Binding 1 is left out: bind group creation fails validation.
    match ctx.dispatch(&kernel, "main", &[], &[0; 16], 1) {
        Err(Error::Device { message, .. }) => assert!(!message.is_empty()),
        other => panic!("expected a device error, got {other:?}"),
    }
    still_works(&device);
}

#[test]
fn a_subgroup_kernel_on_a_device_without_subgroups_is_refused_naming_the_feature() {
    if gpu().is_none() {
        return;
    }
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter, since gpu() found one");
    let (dev, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let device = Device::from_wgpu(dev, queue).unwrap();
    let ctx = device.gpu_context().unwrap();
    let kernel = Kernel {
        name: "sum_subgroup",
        source: "@group(0) @binding(0) var<uniform> n: vec4<u32>;
                 @compute @workgroup_size(64) fn main() { _ = subgroupAdd(f32(n.x)); }",
        params: VEC4_N,
        entries: &[("main", 0)],
        trusted: false,
    };
    match ctx.dispatch(&kernel, "main", &[], &[0; 16], 1) {
        Err(Error::Device { message, .. }) => {
            assert!(
                message.contains("sum_subgroup") && message.contains("SUBGROUP"),
                "{message}"
            );
        }
        other => panic!("expected a device error, got {other:?}"),
    }
    still_works(&device);
}

#[test]
fn a_dispatch_unlike_its_kernel_s_declaration_is_a_device_error_naming_both() {
    let Some((device, ctx)) = gpu() else { return };
    let kernel = Kernel {
        name: "one_buffer",
        source: "@group(0) @binding(0) var<uniform> n: vec4<u32>;
                 @group(0) @binding(1) var<storage, read_write> out: array<f32>;
                 @compute @workgroup_size(1) fn main() { out[0] = f32(n.x); }",
        params: VEC4_N,
        entries: &[("main", 1)],
        trusted: false,
    };
    let out = Tensor::zeros(&device, [1]).unwrap();
    let buffer = out.gpu_buffer().expect("a GPU tensor");
    for (entry, buffers, params) in [
        ("main", &[][..], &[0u8; 16][..]),
        ("main", &[buffer][..], &[0u8; 8][..]),
        ("other", &[buffer][..], &[0u8; 16][..]),
    ] {
        match ctx.dispatch(&kernel, entry, buffers, params, 1) {
            Err(Error::Device { message, .. }) => assert!(
                message.contains(&format!("one_buffer::{entry}")) && message.contains("declared"),
                "{message}"
            ),
            other => panic!("expected a device error, got {other:?}"),
        }
    }
    ctx.dispatch(&kernel, "main", &[buffer], &[0; 16], 1)
        .unwrap();
    still_works(&device);
}
