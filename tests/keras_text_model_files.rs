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
const CASES: &[&str] = &[
    "text_int_lstm",
    "text_multi_hot_dense",
    "text_functional_gru",
];

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
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
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

const REVIEWS: [&str; 8] = [
    "good fun film",
    "bad dull film",
    "fun and good",
    "dull, bad plot",
    "GOOD!",
    "bad.",
    "a good plot",
    "not fun, dull",
];

/// Strings the round trip predicts on: unseen words, punctuation, case, an empty one.
const PROBE: [&str; 5] = [
    "good film",
    "Dull PLOT!",
    "words it never saw",
    "",
    "fun fun fun",
];

/// wgfit's text models for the round trip: ids into Embedding -> GRU, and multi-hot bigrams
/// (standardize lower, so punctuation stays in tokens) into Dense.
fn text_models(device: &Device) -> Vec<(&'static str, TextModel<Sequential>)> {
    use wgfit::text::Standardize;
    let mut ids = TextVectorization::new()
        .output_sequence_length(5)
        .max_tokens(12);
    ids.adapt(&REVIEWS).unwrap();
    let recurrent = Sequential::new()
        .seed(4)
        .add(Embedding::new(ids.vocabulary_size(), 4).mask_zero(true))
        .add(Gru::new(3))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    let mut bags = TextVectorization::new()
        .output_mode(OutputMode::MultiHot)
        .standardize(Standardize::Lower)
        .ngrams(2);
    bags.adapt(&REVIEWS).unwrap();
    let dense = Sequential::new()
        .seed(5)
        .add(Dense::new(3).activation(Activation::Relu))
        .add(Dense::new(2).activation(Activation::Softmax));
    let mut out = Vec::new();
    for (name, tv, model, loss) in [
        ("ids_gru", ids, recurrent, Loss::BinaryCrossentropy),
        (
            "multi_hot_dense",
            bags,
            dense,
            Loss::SparseCategoricalCrossentropy,
        ),
    ] {
        let mut m = TextModel::new(tv, model).unwrap();
        m.compile(device, Optimizer::adam().learning_rate(0.05), loss, &[])
            .unwrap();
        let labels = ndarray::Array2::from_shape_fn((REVIEWS.len(), 1), |(i, _)| (i % 2) as f32);
        let opts = FitOptions::new().batch_size(3).epochs(2).verbose(0);
        m.fit(&REVIEWS, &labels, opts).unwrap();
        out.push((name, m));
    }
    out
}

/// A wgfit TextModel converted to Keras (tools/wgfit_to_keras.py) and back
/// (tools/keras_to_wgfit.py) predicts from strings what it did: the vectorizer's settings and
/// vocabulary went to Keras's TextVectorization config and assets, and came back. No
/// TensorFlow: that Keras itself opens the converted file and predicts what wgfit predicts is
/// checked by hand (`WGFIT_TEXT_TO_KERAS_DIR=dir` keeps the files and wgfit's predictions
/// there; tools/check_text_wgfit_to_keras.py, in the TF venv, records the result in
/// tests/golden/text_wgfit_to_keras.json), and this test checks that record.
#[test]
fn a_wgfit_text_model_converts_to_keras_and_back_predicting_the_same() {
    let record = std::fs::read_to_string(common::golden::dir().join("text_wgfit_to_keras.json"))
        .unwrap_or_else(|_| "{}".into());
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let keep = std::env::var_os("WGFIT_TEXT_TO_KERAS_DIR").map(PathBuf::from);
    let dir = keep
        .clone()
        .unwrap_or_else(|| scratch("text-wgfit-to-keras"));
    std::fs::create_dir_all(&dir).unwrap();
    for device in devices() {
        for (name, model) in text_models(&device) {
            let on = format!("{name} on {}", device.info());
            let (wgfit, keras, back) = (
                dir.join(format!("{name}.wgfit")),
                dir.join(format!("{name}.keras")),
                dir.join(format!("{name}.back.wgfit")),
            );
            model.save(&wgfit).unwrap();
            let want = model_predict(model, &PROBE);
            let path = |p: &PathBuf| p.display().to_string();
            common::python::run(
                &py,
                &tool("wgfit_to_keras.py"),
                &[&path(&wgfit), &path(&keras)],
            );
            common::python::run(
                &py,
                &tool("keras_to_wgfit.py"),
                &[&path(&keras), &path(&back)],
            );
            let mut again = TextModel::load(&back, &device).unwrap_or_else(|e| panic!("{on}: {e}"));
            check(&on, &again.predict(&PROBE).unwrap(), &want, PREDICTIONS);
            if keep.is_some() && device.info() == Device::cpu().info() {
                let doc = serde_json::json!({"texts": PROBE,
                    "pred": want.outer_iter().map(|r| r.iter().copied().collect::<Vec<f32>>())
                        .collect::<Vec<_>>()});
                std::fs::write(dir.join(format!("{name}.json")), doc.to_string()).unwrap();
            }
            if keep.is_some() {
                continue; // recording for the by-hand check: the record comes after
            }
            // Keras, by hand, predicted what wgfit predicts for this case.
            let keras_err = record["cases"][name]["max_abs_err"].as_f64();
            assert!(
                keras_err.is_some_and(|e| e <= 1e-5),
                "{name}: by-hand record {keras_err:?}"
            );
        }
    }
    if keep.is_none() {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

fn model_predict(mut m: TextModel<Sequential>, texts: &[&str]) -> ArrayD<f32> {
    m.predict(texts).unwrap()
}

/// Edits `text_int_lstm.keras`'s config.json with Python `edit` (a statement on `c`, the
/// config) and returns what keras_to_wgfit.py said converting it (it must fail).
fn refused(py: &str, dir: &Path, case: &str, edit: &str) -> String {
    let source = folder().join("text_int_lstm.keras").display().to_string();
    let edited = dir.join(format!("{case}.keras")).display().to_string();
    let script = format!(
        "import json, sys, zipfile\n\
         src, dst = sys.argv[1], sys.argv[2]\n\
         with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, 'w') as out:\n\
         \x20   for n in z.namelist():\n\
         \x20       data = z.read(n)\n\
         \x20       if n == 'config.json':\n\
         \x20           c = json.loads(data)\n\
         \x20           L = c['config']['layers']\n\
         \x20           {edit}\n\
         \x20           data = json.dumps(c)\n\
         \x20       out.writestr(n, data)\n"
    );
    let out = std::process::Command::new(py)
        .args(["-c", &script, &source, &edited])
        .output()
        .unwrap();
    assert!(out.status.success(), "{case}: edit: {out:?}");
    let target = dir.join(format!("{case}.wgfit")).display().to_string();
    let out = std::process::Command::new(py)
        .args([&tool("keras_to_wgfit.py"), &edited, &target])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{case}: converted, but should be refused"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn text_vectorization_options_wgfit_lacks_are_refused_by_name() {
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dir = scratch("keras-text-refused");
    for (case, edit, says) in [
        (
            "tf_idf",
            "L[1]['config']['output_mode'] = 'tf_idf'",
            "output_mode = \"tf_idf\"",
        ),
        ("ragged", "L[1]['config']['ragged'] = True", "ragged = true"),
        (
            "callable_split",
            "L[1]['config']['split'] = {'class_name': 'function'}",
            "option split",
        ),
        (
            "ngram_tuple",
            "L[1]['config']['ngrams'] = [2, 3]",
            "ngrams = [2, 3]",
        ),
        (
            "unknown_key",
            "L[1]['config']['new_thing'] = 1",
            "new_thing",
        ),
        (
            "not_first",
            "L.insert(2, L.pop(1))",
            "TextVectorization only as the first layer",
        ),
    ] {
        let said = refused(&py, &dir, case, edit);
        assert!(said.contains(says), "{case}: said {said:?}");
        assert!(said.contains("text_vectorization"), "{case}: said {said:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
