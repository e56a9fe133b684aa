//! Keras text models in wgfit: every Keras-trained `.keras` file in
//! tests/golden/keras_text_models (string Input -> TextVectorization -> ..., written by
//! tools/golden_keras_text_models.py with TF, by hand) converted by tools/keras_to_wgfit.py to
//! a TextModel file, opened with `TextModel::load` on the CPU reference and the GPU, predicts
//! from the committed strings what Keras predicted (1e-5 relative to the output's scale): the
//! vectorizer's settings and vocabulary (from the zip's assets) came along. A TextVectorization
//! option wgfit lacks, or one placed anywhere but first, is refused naming it.

mod common;

use std::path::{Path, PathBuf};

use common::golden::{PREDICTIONS, check, devices};
use ndarray::{ArrayD, IxDyn};
use wgfit::prelude::*;

/// Every committed `.keras` file (the test checks that the folder holds no other).
const CASES: &[&str] = &["text_int_lstm", "text_multi_hot_dense", "text_functional_gru"];

fn folder() -> PathBuf {
    common::golden::dir().join("keras_text_models")
}

fn tool(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.join("tools").join(name).display().to_string()
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgfit-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A case's texts and Keras's predictions for them ([texts, units]).
fn golden(name: &str) -> (Vec<String>, ArrayD<f32>) {
    let text = std::fs::read_to_string(folder().join(format!("{name}.json"))).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let texts: Vec<String> = doc["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let rows = doc["pred"].as_array().unwrap();
    let units = rows[0].as_array().unwrap().len();
    let data: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32))
        .collect();
    let pred = ArrayD::from_shape_vec(IxDyn(&[rows.len(), units]), data).unwrap();
    (texts, pred)
}

#[test]
fn every_keras_text_model_converts_and_predicts_as_keras_from_strings() {
    let mut found: Vec<String> = std::fs::read_dir(folder())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".keras").map(str::to_string)
        })
        .collect();
    found.sort();
    let mut cases: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    cases.sort();
    assert_eq!(found, cases, "the .keras files and the cases tested");
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dir = scratch("keras-text-model-files");
    for name in CASES {
        let source = folder().join(format!("{name}.keras")).display().to_string();
        let target = dir.join(format!("{name}.wgfit"));
        common::python::run(
            &py,
            &tool("keras_to_wgfit.py"),
            &[&source, &target.display().to_string()],
        );
        let (texts, want) = golden(name);
        for device in devices() {
            let on = format!("{name} on {}", device.info());
            let mut model = TextModel::load(&target, &device)
                .unwrap_or_else(|e| panic!("{on}: TextModel::load: {e}"));
            let got = model.predict(&texts).unwrap();
            check(&on, &got, &want, PREDICTIONS);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
