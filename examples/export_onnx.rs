//! ONNX export: train a masked LSTM classifier briefly, export it with `export_onnx`, and save
//! some inputs and wgfit's predictions for them beside it, so onnxruntime can be checked to
//! predict the same (the last line printed is the command that does it).
//!
//!     cargo run --release --example export_onnx
//!     python tools/check_onnx.py <the directory it prints>
//!
//! The sequences are post-padded: the exported model turns the mask into each LSTM's
//! `sequence_lens`, which is exact when the kept steps come first.
//! The Keras way: `tf2onnx.convert.from_keras(model, opset=17)`.

use ndarray::{Array1, Array3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

/// Post-padded sequences of 2 features; the label: is the first feature's sum positive?
fn data() -> (Array3<f32>, Array1<f32>) {
    let mut rng = StdRng::seed_from_u64(7);
    let (n, t) = (128, 12);
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

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());
    let (x, y) = data();
    let mut model = Sequential::new()
        .seed(1)
        .add(Masking::new(0.0).input_shape([None, Some(2)]))
        .add(Lstm::new(8))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.01),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let history = model.fit(
        &x,
        &y,
        FitOptions::new().batch_size(16).epochs(5).verbose(0),
    )?;
    println!(
        "trained 5 epochs: loss {:.4}",
        history.loss().last().unwrap_or(&f32::NAN)
    );
    let dir = std::env::temp_dir().join(format!("wgfit-export-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("masked_lstm.onnx");
    model.export_onnx(&path)?;
    println!(
        "exported {} ({} bytes, ONNX opset {})",
        path.display(),
        std::fs::metadata(&path)?.len(),
        wgfit::ONNX_OPSET
    );
    // Two sets (the whole data, and a shorter batch of 5) so the check runs both dynamic axes.
    let short = x.slice(ndarray::s![..5, ..7, ..]).to_owned();
    for (set, inputs) in [("all", x), ("short", short)] {
        let predictions = model.predict(&inputs)?;
        ndarray_npy::write_npy(dir.join(format!("masked_lstm.{set}.in0.npy")), &inputs)?;
        ndarray_npy::write_npy(
            dir.join(format!("masked_lstm.{set}.out0.npy")),
            &predictions,
        )?;
    }
    println!(
        "check it in onnxruntime: python tools/check_onnx.py {}",
        dir.display()
    );
    Ok(())
}
