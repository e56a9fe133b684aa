//! wgfit -> Keras (tools/wgfit_to_keras.py): a set of small reference models, one per layer
//! kind and graph feature (the same list as the Keras -> wgfit converter's), each trained a
//! little, saved with `Model::save`, its input batch and wgfit's predictions beside it. Each is
//! converted to a Keras 3 `.keras` zip, and tools/check_wgfit_to_keras.py (numpy + h5py, no
//! TensorFlow) checks the zip against wgfit's file and against the layout Keras itself accepted
//! (tests/golden/wgfit_to_keras.json, recorded by the same script with `--keras`, by hand:
//! `keras.saving.load_model` opened each file and predicted what wgfit predicts).
//!
//! `WGFIT_TO_KERAS_DIR=dir` keeps the files there for that by-hand check.

#[path = "wgfit_to_keras/cases.rs"]
mod cases;
mod common;

use std::ops::DerefMut;
use std::path::{Path, PathBuf};
use std::process::Command;

use cases::{CASES, MakeCase};
use ndarray::ArrayD;
use rand::{SeedableRng, rngs::StdRng};
use serde_json::json;
use wgfit::layers::{Backward, Dims, Forward, Layer, LayerConfig, Saved};
use wgfit::ops::elementwise::affine;
use wgfit::prelude::*;

fn array_json(a: &ArrayD<f32>) -> serde_json::Value {
    json!({"shape": a.shape(), "data": a.iter().copied().collect::<Vec<f32>>()})
}

/// The directory a test's files go to: `WGFIT_TO_KERAS_DIR` for the reference models (a
/// folder in it for the other tests, which run at the same time), or a fresh temporary one.
fn out_dir(name: &str) -> PathBuf {
    let dir = match std::env::var_os("WGFIT_TO_KERAS_DIR") {
        Some(d) if name == "ok" => PathBuf::from(d),
        Some(d) => PathBuf::from(d).join(name),
        None => std::env::temp_dir().join(format!("wgfit-to-keras-{name}-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes a temporary `out_dir` (one in `WGFIT_TO_KERAS_DIR` is kept).
fn done(dir: &Path) {
    if std::env::var_os("WGFIT_TO_KERAS_DIR").is_none() {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Case `name` made and trained one epoch (seeded by its name: the same model every run),
/// with its inputs.
fn trained(name: &str, make: MakeCase) -> (Box<dyn DerefMut<Target = Model>>, Vec<ArrayD<f32>>) {
    let mut rng = StdRng::seed_from_u64(name.len() as u64 * 7919);
    let (mut m, x, y) = make(&mut rng).unwrap_or_else(|e| panic!("{name}: {e}"));
    let xs: Vec<_> = x.iter().map(|a| a.view()).collect();
    let ys: Vec<_> = y.iter().map(|a| a.view()).collect();
    let opts = FitOptions::new().batch_size(4).epochs(1).verbose(0);
    m.fit(xs, ys, opts)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (m, x)
}

fn views(x: &[ArrayD<f32>]) -> Vec<ndarray::ArrayViewD<'_, f32>> {
    x.iter().map(|a| a.view()).collect()
}

/// Trains case `name`, saves it as `{name}.wgfit` and its input batch and wgfit's
/// predictions as `{name}.json`.
fn write_reference(dir: &Path, name: &str, make: MakeCase) {
    let (mut m, x) = trained(name, make);
    m.save(dir.join(format!("{name}.wgfit"))).unwrap();
    let preds = m.predict_many(views(&x)).unwrap();
    let doc = json!({
        "inputs": x.iter().map(array_json).collect::<Vec<_>>(),
        "predictions": preds.iter().map(array_json).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join(format!("{name}.json")), doc.to_string()).unwrap();
}

#[test]
fn every_reference_model_converts_to_a_keras_file_holding_its_weights() {
    let dir = out_dir("ok");
    for (name, make) in CASES {
        write_reference(&dir, name, *make);
    }
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let d = dir.to_str().unwrap();
    for (name, _) in CASES {
        let (src, dst) = (format!("{d}/{name}.wgfit"), format!("{d}/{name}.keras"));
        let said = common::python::run(&py, "tools/wgfit_to_keras.py", &[&src, &dst]);
        // The saved optimizer state is left behind, and the tool says so.
        assert!(said.contains("optimizer state"), "{name}: {said}");
    }
    let golden = "tests/golden/wgfit_to_keras.json";
    let said = common::python::run(
        &py,
        "tools/check_wgfit_to_keras.py",
        &[d, "--golden", golden],
    );
    for (name, _) in CASES {
        assert!(
            said.contains(&format!("{name}: ok")),
            "{name} unchecked:\n{said}"
        );
    }
    done(&dir);
}

/// wgfit -> Keras -> wgfit (tools/keras_to_wgfit.py): the model `load_model` opens from the
/// round trip has the same layers and weights and predicts the same, bit for bit.
#[test]
fn every_reference_model_comes_back_from_keras_predicting_the_same() {
    let dir = out_dir("round");
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    for (name, make) in CASES {
        let (mut m, x) = trained(name, *make);
        let path = |ext: &str| {
            dir.join(format!("{name}.{ext}"))
                .to_str()
                .unwrap()
                .to_string()
        };
        let (first, keras, back) = (path("wgfit"), path("keras"), path("back.wgfit"));
        m.save(&first).unwrap();
        common::python::run(&py, "tools/wgfit_to_keras.py", &[&first, &keras]);
        common::python::run(&py, "tools/keras_to_wgfit.py", &[&keras, &back]);
        let mut loaded = wgfit::load_model(&back, &Device::cpu())
            .unwrap_or_else(|e| panic!("{name}: the round trip does not load: {e}"));
        assert_eq!(loaded.layer_names(), m.layer_names(), "{name}");
        assert_eq!(
            loaded.get_weights().unwrap(),
            m.get_weights().unwrap(),
            "{name}"
        );
        let (got, want) = (
            loaded.predict_many(views(&x)).unwrap(),
            m.predict_many(views(&x)).unwrap(),
        );
        assert_eq!(got, want, "{name}: predictions after the round trip");
    }
    done(&dir);
}

/// A layer of one's own: wgfit loads it once registered, Keras has no such class.
struct Twice;

impl Layer for Twice {
    fn kind(&self) -> &'static str {
        "twice"
    }
    fn build(&mut self, _: &Device, inputs: &[Dims], _: &mut StdRng) -> Result<Vec<Dims>> {
        Ok(inputs.to_vec())
    }
    fn forward(&self, x: &[&Tensor], masks: &[Option<&Tensor>], _: bool) -> Result<Forward> {
        Ok(Forward::one(affine(x[0], 2.0, 0.0)?, masks[0].cloned()))
    }
    fn backward(&self, _: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let dx = need_dx[0].then(|| affine(&dy[0], 2.0, 0.0)).transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("Test.Twice"))
    }
}

#[test]
fn a_layer_keras_lacks_and_a_bad_file_are_errors_naming_them() {
    let mut m = Sequential::new()
        .add(Dense::new(3).input_shape([2]))
        .add(Twice)
        .add(Dense::new(1).name("out"));
    m.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::MeanSquaredError,
        &[],
    )
    .unwrap();
    let x = ndarray::Array2::<f32>::ones((3, 2));
    m.predict(&x).unwrap();
    let dir = out_dir("bad");
    let src = dir.join("twice.wgfit");
    m.save(&src).unwrap();
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dst = dir.join("twice.keras");
    let out = Command::new(&py)
        .arg("tools/wgfit_to_keras.py")
        .args([&src, &dst])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "converted a layer Keras lacks: {err}"
    );
    assert!(
        err.contains("Test.Twice") && err.contains("layer 1"),
        "{err}"
    );
    assert!(!dst.exists(), "a failed conversion left {dst:?} behind");
    // A weights-only file and a truncated model file: errors naming the file, no traceback.
    let weights = dir.join("weights.safetensors");
    m.save_weights(&weights).unwrap();
    let truncated = dir.join("cut.wgfit");
    let bytes = std::fs::read(&src).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    for (bad, says) in [
        (&weights, "not a wgfit model file"),
        (&truncated, "past the end of the file"),
    ] {
        let out = Command::new(&py)
            .arg("tools/wgfit_to_keras.py")
            .args([bad, &dst])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} converted");
        let named = err.contains(bad.to_str().unwrap());
        assert!(
            named && err.contains(says) && !err.contains("Traceback"),
            "{err}"
        );
    }
    // A good file into a folder that does not exist: the error names the target, not the source.
    let mut plain = Sequential::new().add(Dense::new(1).input_shape([2]));
    plain
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    plain.predict(&x).unwrap();
    let good = dir.join("plain.wgfit");
    plain.save(&good).unwrap();
    let nowhere = dir.join("no-such-folder").join("plain.keras");
    let out = Command::new(&py)
        .arg("tools/wgfit_to_keras.py")
        .args([&good, &nowhere])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "wrote into a missing folder");
    assert!(
        err.contains("no-such-folder")
            && err.contains("does not exist")
            && !err.contains("Traceback"),
        "{err}"
    );
    done(&dir);
}
