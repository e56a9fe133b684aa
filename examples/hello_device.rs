//! Picks the best device (or the one `WGFIT_DEVICE` names), then checks a matmul on it
//! against the CPU reference and times it.
//!
//!     cargo run --release --example hello_device
//!     WGFIT_DEVICE=cpu cargo run --release --example hello_device

use std::time::Instant;

use wgfit::prelude::*;

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());
    if let Some(ctx) = device.gpu_context() {
        println!("features: {}", ctx.features());
    }

    let (m, k, n) = (257, 131, 509);
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let b: Vec<f32> = (0..k * n)
        .map(|i| ((i * 104_729) % 1000) as f32 / 500.0 - 1.0)
        .collect();

    let start = Instant::now();
    let on_device = {
        let a = Tensor::from_vec(&device, [m, k], a.clone())?;
        let b = Tensor::from_vec(&device, [k, n], b.clone())?;
        ops::matmul::matmul(&a, &b, Transpose::None)?.to_vec_blocking()?
    };
    let elapsed = start.elapsed();
    let reference = {
        let cpu = Device::cpu();
        let a = Tensor::from_vec(&cpu, [m, k], a)?;
        let b = Tensor::from_vec(&cpu, [k, n], b)?;
        ops::matmul::matmul(&a, &b, Transpose::None)?.to_vec_blocking()?
    };
    let diff: f64 = on_device
        .iter()
        .zip(&reference)
        .map(|(&x, &y)| f64::from(x - y).powi(2))
        .sum();
    let norm: f64 = reference.iter().map(|&y| f64::from(y).powi(2)).sum();
    let rel = (diff / norm).sqrt();
    println!(
        "matmul [{m}, {k}] x [{k}, {n}]: {:.1} ms (first run, pipelines included), relative error vs CPU reference {rel:.2e}",
        elapsed.as_secs_f64() * 1e3
    );
    anyhow::ensure!(
        rel <= 1e-5,
        "the device's matmul differs from the CPU reference by {rel:e}"
    );
    println!("ok");
    Ok(())
}
