//! A model trained in Keras, run by wgfit: Masking -> Normalization -> LSTM(32) -> Dense(9,
//! softmax) trained on UCI Japanese Vowels by `tools/golden_keras_models.py` (Keras 3 on
//! TensorFlow), saved as `.keras` and converted by `tools/keras_to_wgfit.py` to
//! `tests/golden/keras_models/vowels_lstm.wgfit`, committed, so this runs without Python.
//! `wgfit::load_model` opens it; wgfit evaluates it on the test speakers and must find Keras's
//! recorded test accuracy (`vowels_lstm.json`) to 1e-3, and at least 0.9.
//!
//!     cargo run --release --example keras_vowels
//!
//! Data: UCI "Japanese Vowels" (M. Kudo, J. Toyama, M. Shimbo, 1999), CC BY 4.0, as shipped in
//! aeon 1.6.0 (`examples/data/JapaneseVowels_TEST.ts`).

use anyhow::{Context, ensure};
use ndarray::Array1;
use wgfit::data::{PadOptions, Padding, pad_feature_sequences};
use wgfit::prelude::*;

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());
    let root = env!("CARGO_MANIFEST_DIR");
    let models = format!("{root}/tests/golden/keras_models");
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!(
        "{models}/vowels_lstm.json"
    ))?)?;
    let keras_accuracy = recorded["test_accuracy"]
        .as_f64()
        .context("vowels_lstm.json has no test_accuracy")?;

    let mut model = wgfit::load_model(format!("{models}/vowels_lstm.wgfit"), &device)?;
    print!("{}", model.summary());

    // Raw features: the model standardises them itself (its Normalization layer, adapted in
    // Keras). Post-padded as in Keras; the Masking layer hides the padding.
    let ts = read_ts(format!("{root}/examples/data/JapaneseVowels_TEST.ts"))?;
    let views: Vec<_> = ts.series.iter().map(|s| s.view()).collect();
    let x = pad_feature_sequences(&views[..], PadOptions::new().padding(Padding::Post))?;
    let y = Array1::from_iter(ts.labels.iter().map(|&id| id as f32));
    let result = model.evaluate(&x, &y)?;
    let accuracy = result
        .get("accuracy")
        .context("the model has no accuracy metric")?;
    println!(
        "{} test utterances: loss {:.4}, accuracy {accuracy:.4} (Keras {keras_accuracy:.4})",
        y.len(),
        result.loss
    );
    ensure!(
        (f64::from(accuracy) - keras_accuracy).abs() <= 1e-3,
        "accuracy {accuracy:.4} differs from Keras's {keras_accuracy:.4} by more than 1e-3"
    );
    ensure!(accuracy >= 0.9, "test accuracy {accuracy:.4} is below 0.9");
    Ok(())
}
