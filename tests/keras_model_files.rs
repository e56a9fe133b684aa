//! Keras models in wgfit: every Keras-trained `.keras` file in tests/golden/keras_models
//! (written by tools/golden_keras_models.py) converted by tools/keras_to_wgfit.py to a `.wgfit`
//! file, opened with `load_model` on the CPU reference and the GPU, predicts the committed
//! batch as Keras did (1e-5 relative to the output's scale) and evaluates its targets to
//! Keras's loss (1e-5: the compile settings came along); a layer or option wgfit lacks is
//! refused by the converter, naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::golden::{FIRST_LOSS, Golden, PREDICTIONS, check, check_scalar, devices};
use ndarray::ArrayD;

/// Every committed `.keras` file (the test checks that the folder holds no other).
const CASES: &[&str] = &[
    "masked_lstm",
    "gru_reset_after",
    "gru_reset_before",
    "simple_rnn",
    "bidirectional_lstm_concat",
    "bidirectional_gru_sum",
    "stacked_masked_lstm",
    "embedding_lstm",
    "mlp_dropout",
    "normalization_lstm",
    "spatial_dropout_lstm",
    "two_inputs_concat",
    "two_inputs_add",
    "seq2seq_lstm",
    "bidirectional_simple_rnn_ave",
    "bidirectional_gru_states",
    "merges_shared_two_outputs",
    "vowels_lstm",
];

fn folder() -> PathBuf {
    common::golden::dir().join("keras_models")
}

fn tool() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    root.join("tools/keras_to_wgfit.py").display().to_string()
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgfit-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `x` or `x.0`, `x.1`, ... of a case's tensors (likewise `pred`).
fn many(tensors: &std::collections::BTreeMap<String, ArrayD<f32>>, base: &str) -> Vec<ArrayD<f32>> {
    if let Some(t) = tensors.get(base) {
        return vec![t.clone()];
    }
    (0..)
        .map_while(|i| tensors.get(&format!("{base}.{i}")).cloned())
        .collect()
}

/// The model file at `path`, on every device, predicts case `name`'s batch as Keras did, and
/// (`with_loss`) its loss on the batch's targets is Keras's.
fn predicts_as_keras(name: &str, path: &Path, with_loss: bool) {
    let tensors = Golden::load_tensors(&format!("keras_models/{name}"));
    let (x, y, pred) = (
        many(&tensors, "x"),
        many(&tensors, "y"),
        many(&tensors, "pred"),
    );
    assert!(!x.is_empty() && y.len() == pred.len(), "{name}: tensors");
    let keras_loss = tensors["loss"].iter().next().copied().unwrap();
    for device in devices() {
        let on = format!("{name} on {}", device.info());
        let mut model =
            wgfit::load_model(path, &device).unwrap_or_else(|e| panic!("{on}: load_model: {e}"));
        let views: Vec<_> = x.iter().map(|a| a.view()).collect();
        let got = model.predict_many(views).unwrap();
        assert_eq!(got.len(), pred.len(), "{on}: outputs");
        for (k, (got, want)) in got.iter().zip(&pred).enumerate() {
            check(&format!("{on}: output {k}"), got, want, PREDICTIONS);
        }
        if !with_loss {
            continue;
        }
        let views: Vec<_> = x.iter().map(|a| a.view()).collect();
        let targets: Vec<_> = y.iter().map(|a| a.view()).collect();
        let loss = model.evaluate(views, targets).unwrap().loss;
        check_scalar(&format!("{on}: loss"), loss, keras_loss, FIRST_LOSS);
    }
}

#[test]
fn every_keras_file_converts_and_predicts_as_keras() {
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
    let dir = scratch("keras-model-files");
    for name in CASES {
        let source = folder().join(format!("{name}.keras"));
        let target = dir.join(format!("{name}.wgfit"));
        let (source, target) = (source.display().to_string(), target.display().to_string());
        common::python::run(&py, &tool(), &[&source, &target]);
        predicts_as_keras(name, Path::new(&target), true);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The example's model file, converted once and committed, needs no Python.
#[test]
fn committed_vowels_model_predicts_as_keras() {
    predicts_as_keras("vowels_lstm", &folder().join("vowels_lstm.wgfit"), true);
}

/// Copies `case`'s `.keras` file to `dir` with `edit` (Python, given `config` and `layers`,
/// the config's layer list) applied to its config.json, and converts it: the converter's
/// output and the file it was asked to write.
fn convert_edited(py: &str, dir: &Path, case: &str, edit: &str) -> (Output, PathBuf) {
    let script = dir.join("edit.py");
    let source = folder().join(format!("{case}.keras"));
    let edited = dir.join(format!("{case}-edited.keras"));
    std::fs::write(
        &script,
        format!(
            "import json, sys, zipfile\n\
             src, dst = sys.argv[1], sys.argv[2]\n\
             with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, 'w') as out:\n    \
                 for item in z.namelist():\n        \
                     data = z.read(item)\n        \
                     if item == 'config.json':\n            \
                         config = json.loads(data)\n            \
                         layers = config['config']['layers']\n            \
                         {edit}\n            \
                         data = json.dumps(config)\n        \
                     out.writestr(item, data)\n"
        ),
    )
    .unwrap();
    let (script, source, edited) = (script.display(), source.display(), edited.display());
    common::python::run(
        py,
        &script.to_string(),
        &[&source.to_string(), &edited.to_string()],
    );
    let target = dir.join(format!("{case}-edited.wgfit"));
    let out = Command::new(py)
        .args([tool(), edited.to_string(), target.display().to_string()])
        .output()
        .unwrap();
    (out, target)
}

/// The converter's failure message for `case` with `edit`; it wrote no file.
fn refused(py: &str, dir: &Path, case: &str, edit: &str) -> String {
    let (out, target) = convert_edited(py, dir, case, edit);
    assert!(!out.status.success(), "{case} with `{edit}` converted");
    assert!(!target.exists(), "{case} with `{edit}`: a file was written");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn layers_and_options_wgfit_lacks_are_refused_by_name() {
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dir = scratch("keras-model-refused");
    // (case, edit of its config's layers, what the message must name)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "masked_lstm",
            "layers[2]['class_name'] = 'Conv1D'",
            &["'lstm'", "Conv1D"],
        ),
        (
            "masked_lstm",
            "layers[2]['config']['go_backwards'] = True",
            &["'lstm'", "go_backwards"],
        ),
        (
            "masked_lstm",
            "layers[3]['config']['kernel_regularizer'] = {'class_name': 'L2', 'config': {}}",
            &["'dense'", "kernel_regularizer"],
        ),
        (
            "gru_reset_after",
            "layers[2]['config']['activation'] = 'relu'",
            &["'gru'", "activation"],
        ),
        (
            "mlp_dropout",
            "layers[1]['config']['activation'] = 'gelu'",
            &["'dense_8'", "gelu"],
        ),
        (
            "bidirectional_gru_sum",
            "layers[2]['config']['merge_mode'] = 'max'",
            &["'bidirectional_1'", "merge_mode"],
        ),
        (
            "stacked_masked_lstm",
            "layers[3]['config']['stateful'] = True",
            &["'lstm_3'", "stateful"],
        ),
        (
            "two_inputs_add",
            "layers[4]['module'] = 'keras.src.ops.numpy'",
            &["'dense_17'", "'add'"],
        ),
        (
            "two_inputs_add",
            "layers[5]['inbound_nodes'][0]['kwargs']['scale'] = 2.0",
            &["'dense_17'", "scale"],
        ),
        (
            "mlp_dropout",
            "layers[2]['config']['trainable'] = False",
            &["'dropout'", "trainable"],
        ),
        (
            "mlp_dropout",
            "layers[1]['config']['activation'] = {'class_name': 'ReLU', 'config': {}}",
            &["'dense_8'", "activation"],
        ),
        // A mask of one's own: the LSTM's mask compares its input with 5, where the Masking
        // layer masks 0 (wgfit would compute Masking's mask instead).
        (
            "two_inputs_concat",
            "layers[1]['inbound_nodes'][0]['args'][1] = 5.0",
            &["'lstm_7'", "'not_equal_9'"],
        ),
        (
            "two_inputs_concat",
            "layers[3]['class_name'] = 'Greater'",
            &["'lstm_7'", "'any_8'", "Greater"],
        ),
    ];
    for (case, edit, names) in cases {
        let message = refused(&py, &dir, case, edit);
        for name in *names {
            assert!(
                message.contains(name),
                "{case} with `{edit}`: the message does not name {name}: {message}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Two outputs of one layer (an encoder's LSTM states) are named as wgfit names them (the
/// layer's name, then suffixed), so the converted compile settings load.
#[test]
fn two_outputs_of_one_layer_convert_with_wgfit_s_names() {
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dir = scratch("keras-model-two-outputs");
    let edit = "config['config']['output_layers'] = [['lstm_8', 0, 1], ['lstm_8', 0, 2]]";
    let (out, target) = convert_edited(&py, &dir, "seq2seq_lstm", edit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "conversion failed: {stderr}");
    for device in devices() {
        let model = wgfit::load_model(&target, &device)
            .unwrap_or_else(|e| panic!("{}: load_model: {e}", device.info()));
        assert_eq!(model.output_names(), ["lstm_8", "lstm_8_1"]);
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Compile settings wgfit lacks do not stop a conversion: they become defaults, said on
/// stderr, and the model predicts as Keras's.
#[test]
fn compile_settings_wgfit_lacks_become_defaults_said_on_stderr() {
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dir = scratch("keras-model-compile");
    let edit = "c = config['compile_config']; \
                c['optimizer'] = {'class_name': 'Adamax', 'config': {}}; \
                c['loss'] = {'class_name': 'BinaryCrossentropy', 'config': {'from_logits': True}}; \
                c['metrics'] = ['auc']";
    let (out, target) = convert_edited(&py, &dir, "masked_lstm", edit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "not converted: {stderr}");
    for said in ["Adamax", "from_logits", "auc"] {
        assert!(
            stderr.contains(said),
            "stderr does not name {said}: {stderr}"
        );
    }
    predicts_as_keras("masked_lstm", &target, false);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A `.safetensors` target keeps the weights-only conversion, now for every layer a whole
/// model converts: the weights load into the model built in Rust, which predicts as Keras.
#[test]
fn weights_only_conversion_loads_into_the_model_built_in_rust() {
    use wgfit::prelude::*;
    let Some(py) = common::python::python(&["numpy", "h5py"]) else {
        return;
    };
    let dir = scratch("keras-model-weights");
    let source = folder()
        .join("bidirectional_gru_sum.keras")
        .display()
        .to_string();
    let target = dir.join("weights.safetensors").display().to_string();
    common::python::run(&py, &tool(), &[&source, &target]);
    let tensors = Golden::load_tensors("keras_models/bidirectional_gru_sum");
    for device in devices() {
        let mut model = Sequential::new()
            .add(Masking::new(0.0).input_shape([None, Some(3)]))
            .add(Bidirectional::new(Gru::new(4).return_sequences(true)).merge_mode(MergeMode::Sum))
            .add(Dense::new(3).activation(Activation::Softmax));
        model
            .compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])
            .unwrap();
        model.load_weights(&target).unwrap();
        let got = model.predict(&tensors["x"]).unwrap();
        let on = format!("weights only on {}", device.info());
        check(&on, &got, &tensors["pred"], PREDICTIONS);
    }
    std::fs::remove_dir_all(dir).unwrap();
}
