//! Whole models in one file: train a masked LSTM classifier for 3 epochs, `save` it, open it
//! with `load_model` in a fresh process (this program started again with `resume`), evaluate
//! it there and go on training to epoch 6; then check that the model trained on in the other
//! process equals, bit for bit, the same model trained 6 epochs here without a stop (the
//! program exits non-zero otherwise).
//!
//!     cargo run --release --example save_load
//!
//! The Keras way: `model.save("m.keras")`, then `keras.saving.load_model("m.keras")` and
//! `model.fit(..., initial_epoch=3, epochs=6)` in another script.

use std::path::Path;
use std::process::Command;

use ndarray::{Array1, Array3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

const FIRST: usize = 3;
const TOTAL: usize = 6;

/// Sequences of 2 features, post-padded with zeros; the label: is the first feature's sum
/// over the real steps positive?
fn data() -> (Array3<f32>, Array1<f32>) {
    let mut rng = StdRng::seed_from_u64(7);
    let (n, t) = (96, 9);
    let mut x = Array3::<f32>::zeros((n, t, 2));
    let mut y = Array1::<f32>::zeros(n);
    for i in 0..n {
        let len = rng.random_range(3..=t);
        let mut sum = 0.0;
        for s in 0..len {
            let v = rng.random_range(-1.0f32..1.0);
            x[[i, s, 0]] = v;
            x[[i, s, 1]] = rng.random_range(-1.0f32..1.0);
            sum += v;
        }
        y[i] = f32::from(sum > 0.0);
    }
    (x, y)
}

fn fit(model: &mut Model, x: &Array3<f32>, y: &Array1<f32>, from: usize, to: usize) -> Result<()> {
    let opts = FitOptions::new()
        .batch_size(16)
        .epochs(to)
        .initial_epoch(from)
        .verbose(0);
    model.fit(x, y, opts).map(|_| ())
}

/// The second process: open the file, evaluate, train on, save to `out`.
fn resume(device: &Device, path: &str, out: &str) -> anyhow::Result<()> {
    let (x, y) = data();
    let mut model = wgfit::load_model(path, device)?;
    let e = model.evaluate(&x, &y)?;
    println!(
        "fresh process {}: loaded {path}: loss {:.4}, accuracy {:.3}",
        std::process::id(),
        e.loss,
        e.get("accuracy").unwrap_or(f32::NAN)
    );
    fit(&mut model, &x, &y, FIRST, TOTAL)?;
    model.save(out)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, path, out] = &args[..]
        && cmd == "resume"
    {
        return resume(&device, path, out);
    }
    println!("device: {}", device.info());
    let (x, y) = data();
    let mut model = Sequential::new()
        .seed(1)
        .add(Masking::new(0.0).input_shape([None, Some(2)]))
        .add(Lstm::new(8).dropout(0.1).seed(2))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.01),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    fit(&mut model, &x, &y, 0, FIRST)?;
    let dir = std::env::temp_dir();
    let saved = dir.join(format!("wgfit-save-load-{}.wgfit", std::process::id()));
    let resumed = dir.join(format!(
        "wgfit-save-load-{}-resumed.wgfit",
        std::process::id()
    ));
    model.save(&saved)?;
    println!(
        "saved after {FIRST} epochs: {} ({} bytes)",
        saved.display(),
        std::fs::metadata(&saved)?.len()
    );
    let status = Command::new(std::env::current_exe()?)
        .args([Path::new("resume"), &saved, &resumed])
        .status()?;
    anyhow::ensure!(status.success(), "the fresh process failed: {status}");
    // The uninterrupted run: the same model, trained on here.
    fit(&mut model, &x, &y, FIRST, TOTAL)?;
    let other = wgfit::load_model(&resumed, &device)?;
    let same = other.get_weights()? == model.get_weights()?;
    for p in [&saved, &resumed] {
        std::fs::remove_file(p)?;
    }
    let e = model.evaluate(&x, &y)?;
    println!(
        "after {TOTAL} epochs: accuracy {:.3}; trained on in a fresh process == uninterrupted: {same}",
        e.get("accuracy").unwrap_or(f32::NAN)
    );
    anyhow::ensure!(
        same,
        "the model trained on from its file differs from the uninterrupted run"
    );
    Ok(())
}
