//! Devices: backend choice, adopting an app's wgpu device, limits named in errors, and the
//! one-submit recording model.

mod common;

use common::gpu;
use wgfit::ops::elementwise::{BinaryOp, binary};
use wgfit::ops::matmul::{Transpose, matmul};
use wgfit::{Backend, Device, Error, GpuOptions, Tensor};

#[test]
fn the_cpu_reference_describes_itself() {
    assert_eq!(Device::cpu().info().to_string(), "cpu reference");
    assert!(!Device::cpu().is_gpu());
}

#[cfg(not(any(target_os = "macos", target_os = "ios")))]
#[test]
fn asking_for_metal_off_apple_is_a_config_error_naming_it() {
    match Device::with_backend(Backend::Metal) {
        Err(Error::Config(m)) => assert!(m.contains("Metal"), "{m}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn gpu_devices_describe_adapter_backend_and_type() {
    let Some(device) = gpu() else { return };
    let info = device.info().to_string();
    assert!(info.ends_with(']') && info.contains(" ["), "{info}");
}

#[test]
fn a_tensor_past_the_binding_limit_is_rejected_naming_the_limit() {
    let Some(device) = gpu() else { return };
    let limit = device
        .gpu_context()
        .unwrap()
        .limits()
        .max_storage_buffer_binding_size;
    if limit <= 1 << 30 {
        assert_rejected_past_the_binding_limit(&device);
        return;
    }
    // Past 1 GiB the tensor would take that much host memory: the same adapter, adopted with
    // the binding limit lowered to 64 MiB, is checked instead (never a quiet skip).
    eprintln!("adapter binds up to {limit} bytes: checking a device limited to 64 MiB instead");
    let adapter = common::app_adapter();
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: 64 << 20,
        ..adapter.limits()
    };
    let descriptor = wgpu::DeviceDescriptor {
        required_limits: limits,
        ..wgpu::DeviceDescriptor::default()
    };
    let (dev, queue) = pollster::block_on(adapter.request_device(&descriptor)).unwrap();
    let reduced = Device::from_wgpu(dev, queue).unwrap();
    let reduced_limit = reduced
        .gpu_context()
        .unwrap()
        .limits()
        .max_storage_buffer_binding_size;
    assert!(reduced_limit <= 1 << 30, "{reduced_limit}");
    assert_rejected_past_the_binding_limit(&reduced);
}

/// A tensor one f32 past `device`'s binding limit is refused with an error naming the limit.
fn assert_rejected_past_the_binding_limit(device: &Device) {
    let limit = device
        .gpu_context()
        .unwrap()
        .limits()
        .max_storage_buffer_binding_size;
    let n = (limit / 4 + 1) as usize;
    match Tensor::from_vec(device, [n], vec![0.0; n]) {
        Err(Error::Device { message, .. }) => {
            assert!(
                message.contains("max_storage_buffer_binding_size"),
                "{message}"
            );
            assert!(message.contains(&limit.to_string()), "{message}");
        }
        other => panic!("expected a device error, got {other:?}"),
    }
}

/// An app's device asked for GL ES's downlevel limits (four storage buffers per kernel) is
/// refused when adopted, naming the limit, rather than failing inside a pipeline later.
#[test]
fn an_adopted_device_with_too_small_limits_is_refused_naming_the_limit() {
    if gpu().is_none() {
        return;
    }
    let adapter = common::app_adapter();
    let descriptor = wgpu::DeviceDescriptor {
        required_limits: wgpu::Limits::downlevel_defaults(),
        ..wgpu::DeviceDescriptor::default()
    };
    let (dev, queue) = pollster::block_on(adapter.request_device(&descriptor)).unwrap();
    let err = Device::from_wgpu(dev, queue).unwrap_err();
    assert!(
        matches!(&err, Error::Device { message, .. }
            if message.contains("max_storage_buffers_per_shader_stage is 4, wgfit needs 8")),
        "{err}"
    );
}

/// An app creates its own wgpu device, as a renderer would, and hands it to wgfit.
#[test]
fn an_adopted_wgpu_device_runs_ops_like_the_cpu() {
    if gpu().is_none() {
        return;
    }
    let adapter = common::app_adapter();
    let (dev, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let device = Device::from_wgpu(dev, queue).unwrap();
    let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
    let run = |d: &Device| {
        let a = Tensor::from_vec(d, [3, 4], values.clone()).unwrap();
        matmul(&a, &a, Transpose::B)
            .unwrap()
            .to_vec_blocking()
            .unwrap()
    };
    assert_eq!(run(&device), run(&Device::cpu()));
}

#[test]
fn ops_are_recorded_and_submitted_once_at_the_readback() {
    if gpu().is_none() {
        return;
    }
    // A context of its own, so parallel tests do not add to its counters.
    let device = Device::gpu_with(GpuOptions::default()).unwrap();
    let ctx = device.gpu_context().unwrap().clone();
    let a = Tensor::from_vec(&device, [4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let before = ctx.counters();
    let mut x = a.clone();
    for _ in 0..5 {
        x = binary(&x, &a, BinaryOp::Add).unwrap();
    }
    let recorded = ctx.counters();
    assert_eq!(recorded.dispatches - before.dispatches, 5);
    assert_eq!(
        recorded.submits, before.submits,
        "nothing is submitted while recording"
    );
    assert_eq!(x.to_vec_blocking().unwrap(), vec![6.0, 12.0, 18.0, 24.0]);
    assert_eq!(ctx.counters().submits - before.submits, 1);
}

/// Each dispatch's parameters sit in a slot of a shared arena buffer; a submission of more
/// dispatches than one arena holds (1 024) spills into more, and the arenas are reused by the
/// next submission. Every op here has its own parameters (`y = x · 1 + k`), so a slot read
/// from the wrong place, or one overwritten before its dispatch ran, changes the sum.
#[test]
fn thousands_of_dispatches_in_one_submit_each_see_their_own_parameters() {
    if gpu().is_none() {
        return;
    }
    let device = Device::gpu_with(GpuOptions::default()).unwrap();
    let ctx = device.gpu_context().unwrap().clone();
    let mut x = Tensor::from_vec(&device, [3], vec![0.0, 1.0, 2.0]).unwrap();
    for round in 0..2 {
        let before = ctx.counters();
        for k in 0..2_500u32 {
            x = wgfit::ops::elementwise::affine(&x, 1.0, (k % 7) as f32).unwrap();
        }
        assert_eq!(
            ctx.counters().submits,
            before.submits,
            "one submit, at the readback"
        );
        // every value is a small integer, so the sums are exact in f32
        let added: f32 = (0..2_500u32).map(|k| (k % 7) as f32).sum();
        let base = added * round as f32;
        let want: Vec<f32> = [0.0, 1.0, 2.0].iter().map(|v| v + base + added).collect();
        assert_eq!(x.to_vec_blocking().unwrap(), want, "round {round}");
    }
}

#[test]
fn repeated_steps_of_one_shape_reuse_pooled_buffers() {
    if gpu().is_none() {
        return;
    }
    let device = Device::gpu_with(GpuOptions::default()).unwrap();
    let ctx = device.gpu_context().unwrap().clone();
    let step = || {
        let a = Tensor::from_vec(&device, [64, 32], vec![0.5; 64 * 32]).unwrap();
        let b = Tensor::from_vec(&device, [32, 16], vec![0.25; 32 * 16]).unwrap();
        let c = matmul(&a, &b, Transpose::None).unwrap();
        assert_eq!(c.to_vec_blocking().unwrap()[0], 4.0);
    };
    step();
    step();
    let settled = ctx.counters().pooled_bytes;
    for _ in 0..10 {
        step();
    }
    assert_eq!(
        ctx.counters().pooled_bytes,
        settled,
        "the pool grew across identical steps"
    );
}
