//! wgfit in a desktop app: an egui window (eframe, wgpu renderer) that trains a model on the
//! window's own wgpu device, a few batches per frame, and plots the curves live.
//!
//!     cargo run --release -p wgfit-desktop
//!     cargo run --release -p wgfit-desktop -- --self-test 60 --screenshot docs/desktop.png
//!
//! Options: `--self-test N` (train N batches, screenshot, check, exit 0 or 1),
//! `--screenshot PATH`, `--size WxH` (default 640x400), `--min-fps F` (self-test: fail
//! below F frames per second while training), `--batches-per-frame N` (default 1),
//! `--queue-depth 1|2` (training submits left running on the GPU; default 1),
//! `--batch-size N` (default 32; 8 on a software adapter such as lavapipe, where the
//! batches and the window's drawing share the CPU's cores), `--train-every N` (train on one frame in N; default 1). `WGFIT_DEVICE=cpu` trains on wgfit's CPU
//! backend instead (the window still draws with wgpu).

mod app;
mod data;
mod selftest;
mod session;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, bail};
use eframe::{egui, egui_wgpu};
use wgfit::Device;

struct Args {
    self_test: Option<usize>,
    screenshot: PathBuf,
    size: [f32; 2],
    min_fps: Option<f64>,
    batches_per_frame: usize,
    queue_depth: usize,
    batch_size: Option<usize>,
    train_every: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        self_test: None,
        screenshot: PathBuf::from("desktop.png"),
        size: [640.0, 400.0],
        min_fps: None,
        batches_per_frame: 1,
        queue_depth: 1,
        batch_size: None,
        train_every: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--self-test" => args.self_test = Some(value()?.parse().context("--self-test N")?),
            "--screenshot" => args.screenshot = value()?.into(),
            "--min-fps" => args.min_fps = Some(value()?.parse().context("--min-fps F")?),
            "--batches-per-frame" => {
                args.batches_per_frame = value()?.parse().context("--batches-per-frame N")?
            }
            "--train-every" => args.train_every = value()?.parse().context("--train-every N")?,
            "--batch-size" => args.batch_size = Some(value()?.parse().context("--batch-size N")?),
            "--queue-depth" => args.queue_depth = value()?.parse().context("--queue-depth 1|2")?,
            "--size" => {
                let v = value()?;
                let (w, h) = v.split_once('x').context("--size WxH")?;
                args.size = [w.parse()?, h.parse()?];
            }
            other => bail!("unknown argument {other:?} (see the top of apps/desktop/src/main.rs)"),
        }
    }
    if std::env::var("WGFIT_DESKTOP_SELF_TEST").is_ok_and(|v| !v.is_empty())
        && args.self_test.is_none()
    {
        args.self_test = Some(std::env::var("WGFIT_DESKTOP_SELF_TEST")?.parse()?);
    }
    Ok(args)
}

/// eframe's device, asked for with the adapter's own limits: egui-wgpu's default asks for
/// `Limits::default()` (WebGL2's on GL, with no compute at all), too little for the model's
/// kernels; wgfit's subgroup and f16 kernels are used when the adapter has them.
fn wgpu_options() -> egui_wgpu::WgpuConfiguration {
    let setup = egui_wgpu::WgpuSetupCreateNew {
        device_descriptor: Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
            label: Some("wgfit-desktop"),
            required_limits: adapter.limits(),
            required_features: adapter.features()
                & (wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F16),
            ..Default::default()
        }),
        ..egui_wgpu::WgpuSetupCreateNew::without_display_handle()
    };
    egui_wgpu::WgpuConfiguration {
        wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup),
        ..Default::default()
    }
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let exit = Arc::new(AtomicI32::new(if args.self_test.is_some() { 1 } else { 0 }));
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size(args.size)
            .with_title("wgfit"),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: wgpu_options(),
        ..Default::default()
    };
    let cpu = std::env::var("WGFIT_DEVICE").is_ok_and(|v| v.eq_ignore_ascii_case("cpu"));
    let test = args
        .self_test
        .map(|n| selftest::SelfTest::new(n, args.min_fps, args.screenshot.clone(), exit.clone()));
    eframe::run_native(
        "wgfit",
        options,
        Box::new(move |cc| {
            let rs = cc
                .wgpu_render_state
                .as_ref()
                .ok_or("eframe gave no wgpu render state")?;
            let info = rs.adapter.get_info();
            let adapter = format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type);
            let (device, shown) = if cpu {
                (
                    Device::cpu(),
                    format!("wgfit CPU backend; window on {adapter}"),
                )
            } else {
                // The window's own device and queue: no second device, no copies between them.
                let device = Device::from_wgpu(rs.device.clone(), rs.queue.clone())?;
                (device, format!("{adapter}, shared with the window"))
            };
            println!("device: {shown}");
            let mut app = app::App::new(device, shown, test);
            app.batches_per_frame = args.batches_per_frame.max(1);
            app.queue_depth = args.queue_depth.clamp(1, 2);
            // A software adapter runs each batch on the cores that also draw the window: a
            // smaller batch keeps frames coming (measured on lavapipe: 26 fps at 8, 13 at 32).
            let software = info.device_type == wgpu::DeviceType::Cpu && !cpu;
            app.batch_size = args
                .batch_size
                .unwrap_or(if software { 8 } else { 32 })
                .max(1);
            println!("batch size: {}", app.batch_size);
            app.train_every = args.train_every.max(1);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("eframe: {e}"))?;
    std::process::exit(exit.load(Ordering::SeqCst));
}
