//! An app that owns its wgpu device, as a renderer would, hands it to wgfit, trains a small
//! model a few batches per "frame", then runs its own compute pass straight on the trained
//! weight buffers (no copy through the CPU) and checks it against `predict`.
//!
//!     cargo run --release --example embed_in_app

use ndarray::{Array1, Array2};
use wgfit::prelude::*;
use wgpu::util::DeviceExt;

/// The app's own kernel: the trained model's forward pass, relu(x W1 + b1) W2 + b2.
const APP_SHADER: &str = r#"
struct Dims { n: u32, inputs: u32, hidden: u32, pad: u32 }
@group(0) @binding(0) var<uniform> d: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w1: array<f32>;
@group(0) @binding(3) var<storage, read> b1: array<f32>;
@group(0) @binding(4) var<storage, read> w2: array<f32>;
@group(0) @binding(5) var<storage, read> b2: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if r >= d.n { return; }
    var out = b2[0];
    for (var j = 0u; j < d.hidden; j++) {
        var h = b1[j];
        for (var i = 0u; i < d.inputs; i++) {
            h += x[r * d.inputs + i] * w1[i * d.hidden + j];
        }
        out += max(h, 0.0) * w2[j];
    }
    y[r] = out;
}
"#;

fn main() -> anyhow::Result<()> {
    // The app's device, created the way a renderer creates it.
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let Ok(adapter) = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    })) else {
        println!(
            "device: none (this example needs a wgpu adapter; on Linux install mesa-vulkan-drivers)"
        );
        return Ok(());
    };
    let (gpu, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;
    let device = Device::from_wgpu(gpu.clone(), queue.clone())?;
    println!("device: {} (shared with the app)", device.info());

    // y = 2 x0 - x1 + 0.5, learned by a small MLP.
    let (n, inputs, hidden) = (256, 2, 16);
    let x = Array2::from_shape_fn((n, inputs), |(r, c)| {
        ((r * 7 + c * 13) % 17) as f32 / 8.0 - 1.0
    });
    let y = Array1::from_shape_fn(n, |r| 2.0 * x[[r, 0]] - x[[r, 1]] + 0.5);
    let mut model = Sequential::new()
        .add(
            Dense::new(hidden)
                .activation(Activation::Relu)
                .input_shape([inputs]),
        )
        .add(Dense::new(1));
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.02),
        Loss::MeanSquaredError,
        &[],
    )?;

    // The frame loop: three batches of training per frame, then the app draws.
    let mut trainer = model.trainer(&x, &y, FitOptions::new().batch_size(32).epochs(30))?;
    let mut frames = 0;
    while !trainer.step(3)?.done {
        frames += 1; // ... the app would render here ...
    }
    let loss = trainer.history().loss().last().copied().unwrap_or(f32::NAN);
    println!("trained 30 epochs over {frames} frames; final loss {loss:.5}");
    drop(trainer);

    // Cancelling: a second run stopped after two frames keeps the epochs it finished.
    let mut cancelled = model.trainer(&x, &y, FitOptions::new().batch_size(32).epochs(30))?;
    cancelled.step(3)?;
    cancelled.step(20)?;
    cancelled.cancel();
    println!(
        "cancelled run: {} epochs done, stopped: {:?}",
        cancelled.history().epochs(),
        cancelled.history().stopped
    );
    drop(cancelled);

    // The app's own pass reads wgfit's weight buffers directly.
    let weight = |name: &str| {
        model
            .weight_buffer(name)
            .ok_or_else(|| anyhow::anyhow!("no GPU buffer for {name}"))
    };
    let (w1, b1, w2, b2) = (
        weight("layers.0.dense.kernel")?,
        weight("layers.0.dense.bias")?,
        weight("layers.1.dense.kernel")?,
        weight("layers.1.dense.bias")?,
    );
    anyhow::ensure!(
        w1.shape == [inputs, hidden] && w2.shape == [hidden, 1],
        "unexpected weight layouts"
    );
    device.synchronize_blocking()?; // wgfit's last step is submitted and done
    let dims = [n as u32, inputs as u32, hidden as u32, 0];
    let dims = gpu.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("dims"),
        contents: bytemuck::cast_slice(&dims),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let xs: Vec<f32> = x.iter().copied().collect();
    let x_buf = gpu.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("x"),
        contents: bytemuck::cast_slice(&xs),
        usage: wgpu::BufferUsages::STORAGE,
    });
    let out_size = (n * 4) as u64;
    let out = gpu.create_buffer(&wgpu::BufferDescriptor {
        label: Some("y"),
        size: out_size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let staging = gpu.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read"),
        size: out_size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let module = gpu.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("app"),
        source: wgpu::ShaderSource::Wgsl(APP_SHADER.into()),
    });
    let pipeline = gpu.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("app"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    fn bind(binding: u32, buffer: &wgpu::Buffer, size: Option<u64>) -> wgpu::BindGroupEntry<'_> {
        let size = size.and_then(std::num::NonZeroU64::new);
        wgpu::BindGroupEntry {
            binding,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset: 0,
                size,
            }),
        }
    }
    let bind_group = gpu.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("app"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            bind(0, &dims, None),
            bind(1, &x_buf, None),
            bind(2, w1.buffer, Some(w1.size)),
            bind(3, b1.buffer, Some(b1.size)),
            bind(4, w2.buffer, Some(w2.size)),
            bind(5, b2.buffer, Some(b2.size)),
            bind(6, &out, None),
        ],
    });
    let mut encoder = gpu.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups((n as u32).div_ceil(64), 1, 1);
    }
    encoder.copy_buffer_to_buffer(&out, 0, &staging, 0, out_size);
    queue.submit([encoder.finish()]);
    staging.slice(..).map_async(wgpu::MapMode::Read, |r| {
        r.expect("mapping the app's output")
    });
    gpu.poll(wgpu::PollType::wait_indefinitely())?;
    let app: Vec<f32> = bytemuck::cast_slice(&staging.slice(..).get_mapped_range()?).to_vec();

    let predicted = model.predict(&x)?;
    let worst = app
        .iter()
        .zip(predicted.iter())
        .map(|(a, p)| (a - p).abs() / p.abs().max(1.0))
        .fold(0.0f32, f32::max);
    println!("the app's own pass over the trained weight buffers matches predict to {worst:.1e}");
    anyhow::ensure!(
        worst <= 1e-5,
        "the app's pass differs from predict by {worst}"
    );
    Ok(())
}
