//! Bad model files: truncated, corrupt, of a newer format version, with an unknown layer
//! class, a config that disagrees with the weights, impossible sizes, or a header declaring
//! huge tensors. Each is an `Error::File` naming the file and what is wrong; nothing panics
//! (the loader is fuzzed with proptest) and nothing is allocated beyond the file's size.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};
use wgfit::layers::{Backward, Dims, Forward, Layer, Saved};
use wgfit::prelude::*;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wgfit-bad-{name}-{}.wgfit", std::process::id()))
}

/// A small trained model with weights of several kinds, saved to `path`.
fn saved(path: &Path) -> Vec<u8> {
    let mut model = Sequential::new()
        .seed(1)
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(Lstm::new(4).return_sequences(true))
        .add(Gru::new(2))
        .add(Dense::new(2).activation(Activation::Softmax));
    model
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::CategoricalCrossentropy,
            &[],
        )
        .unwrap();
    model.save(path).unwrap();
    std::fs::read(path).unwrap()
}

/// The file's header JSON and the bytes after it.
fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (
        serde_json::from_slice(&bytes[8..8 + n]).unwrap(),
        bytes[8 + n..].to_vec(),
    )
}

fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let mut h = serde_json::to_vec(header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

/// The file at `path` with its architecture JSON changed by `edit`.
fn with_model(path: &Path, bytes: &[u8], edit: impl FnOnce(&mut Value)) {
    let (mut header, data) = split(bytes);
    let text = header["__metadata__"]["model"]
        .as_str()
        .unwrap()
        .to_string();
    let mut model: Value = serde_json::from_str(&text).unwrap();
    edit(&mut model);
    header["__metadata__"]["model"] = Value::String(model.to_string());
    std::fs::write(path, join(&header, &data)).unwrap();
}

/// A change to a model's architecture JSON.
type Edit = Box<dyn Fn(&mut Value)>;

/// Loads `path`, expecting an `Error::File` naming it; returns its problem (and tensor).
fn problem(path: &Path) -> (String, Option<String>) {
    match wgfit::load_model(path, &Device::cpu()) {
        Err(Error::File {
            path: p,
            tensor,
            problem,
        }) => {
            assert_eq!(p, path);
            (problem, tensor)
        }
        Err(e) => panic!("expected a file error, got {e:?}"),
        Ok(_) => panic!("a bad file loaded"),
    }
}

#[test]
fn truncated_files_are_file_errors() {
    let path = temp("truncated");
    let bytes = saved(&path);
    for cut in [
        0,
        1,
        7,
        8,
        9,
        100,
        bytes.len() / 2,
        bytes.len() - 4,
        bytes.len() - 1,
    ] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (msg, _) = problem(&path);
        assert!(msg.contains("safetensors"), "cut at {cut}: {msg}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn corrupt_or_foreign_files_say_what_they_are() {
    let path = temp("corrupt");
    let bytes = saved(&path);
    let cases: [(&str, &str, &str); 5] = [
        ("model", "{not json", "not valid JSON"),
        ("format", "wgfit", "weights only"),
        ("format", "wgfit-checkpoint", "checkpoint"),
        ("format_version", "2", "newer wgfit"),
        ("format_version", "zero", "no valid model format version"),
    ];
    for (key, value, says) in cases {
        let (mut header, data) = split(&bytes);
        header["__metadata__"][key] = json!(value);
        std::fs::write(&path, join(&header, &data)).unwrap();
        let (msg, _) = problem(&path);
        assert!(msg.contains(says), "{key} = {value}: {msg}");
    }
    let (mut header, data) = split(&bytes);
    header["__metadata__"]
        .as_object_mut()
        .unwrap()
        .remove("format");
    std::fs::write(&path, join(&header, &data)).unwrap();
    assert!(problem(&path).0.contains("not a wgfit model file"));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_unknown_layer_class_is_named() {
    let path = temp("unknown");
    let bytes = saved(&path);
    with_model(&path, &bytes, |m| {
        m["layers"][2]["class_name"] = json!("ConvLSTM9D")
    });
    let (msg, _) = problem(&path);
    assert!(
        msg.contains("'ConvLSTM9D'") && msg.contains("layer 2"),
        "{msg}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_config_that_disagrees_with_the_weights_names_the_tensor() {
    let path = temp("disagree");
    let bytes = saved(&path);
    // More units than the file's kernel has.
    with_model(&path, &bytes, |m| {
        m["layers"][1]["config"]["units"] = json!(5)
    });
    let (msg, tensor) = problem(&path);
    assert_eq!(tensor.as_deref(), Some("layers.1.lstm.kernel"), "{msg}");
    // Found before the layer is built (its weights allocated), from the file's header.
    assert!(
        msg.contains("config disagrees") && msg.contains("[3, 20]"),
        "{msg}"
    );
    // Another input width than the kernel's rows.
    with_model(&path, &bytes, |m| {
        m["inputs"][0]["shape"] = json!([null, 4])
    });
    let (msg, tensor) = problem(&path);
    assert_eq!(tensor.as_deref(), Some("layers.1.lstm.kernel"), "{msg}");
    assert!(
        msg.contains("config disagrees") && msg.contains("[4, 16]"),
        "{msg}"
    );
    // A GRU's bias layout (reset_after) other than the file's: found when the shapes are read.
    with_model(&path, &bytes, |m| {
        m["layers"][2]["config"]["reset_after"] = json!(false)
    });
    let (msg, tensor) = problem(&path);
    assert_eq!(tensor.as_deref(), Some("layers.2.gru.bias"), "{msg}");
    // An option wgfit does not have.
    with_model(&path, &bytes, |m| {
        m["layers"][1]["config"]["go_backwards"] = json!(true)
    });
    assert!(problem(&path).0.contains("go_backwards"));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn impossible_sizes_and_graphs_are_refused_before_anything_is_built() {
    let path = temp("impossible");
    let bytes = saved(&path);
    let edits: Vec<(&str, Edit)> = vec![
        (
            "larger than",
            Box::new(|m| m["layers"][3]["config"]["units"] = json!(1u64 << 40)),
        ),
        (
            "integer >= 0",
            Box::new(|m| m["layers"][3]["config"]["units"] = json!(-3)),
        ),
        (
            "product",
            Box::new(|m| m["inputs"][0]["shape"] = json!([1u64 << 20, 1u64 << 20])),
        ),
        (
            "index below",
            Box::new(|m| m["nodes"][1]["layer"] = json!(99)),
        ),
        (
            "before any node",
            Box::new(|m| m["nodes"][0]["inputs"] = json!([3])),
        ),
        ("again", Box::new(|m| m["nodes"][1]["outputs"] = json!([1]))),
        (
            "applied nowhere",
            Box::new(|m| {
                m["nodes"].as_array_mut().unwrap().pop();
            }),
        ),
        ("no inputs", Box::new(|m| m["inputs"] = json!([]))),
        (
            "a loss wgfit has",
            Box::new(|m| m["compile"]["outputs"][0]["loss"] = json!("hinge")),
        ),
        (
            "optimizer 'Lion'",
            Box::new(|m| m["compile"]["optimizer"]["class_name"] = json!("Lion")),
        ),
        (
            "no name",
            Box::new(|m| {
                m["layers"][0]["config"]
                    .as_object_mut()
                    .unwrap()
                    .remove("name");
            }),
        ),
        ("must be a JSON object", Box::new(|m| *m = json!([1, 2]))),
    ];
    for (says, edit) in edits {
        with_model(&path, &bytes, |m| edit(m));
        let (msg, _) = problem(&path);
        assert!(msg.contains(says), "expected '{says}' in: {msg}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_header_declaring_huge_tensors_is_refused() {
    let path = temp("huge");
    let bytes = saved(&path);
    let (mut header, data) = split(&bytes);
    header["layers.3.dense.kernel"]["shape"] = json!([1u64 << 31, 1u64 << 31]);
    std::fs::write(&path, join(&header, &data)).unwrap();
    assert!(problem(&path).0.contains("safetensors"));
    // A header length past the end of the file.
    let mut lying = bytes.clone();
    lying[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    std::fs::write(&path, lying).unwrap();
    assert!(problem(&path).0.contains("safetensors"));
    std::fs::remove_file(&path).unwrap();
}

/// A layer without a config.
struct Opaque;

impl Layer for Opaque {
    fn kind(&self) -> &'static str {
        "opaque"
    }
    fn build(
        &mut self,
        _: &Device,
        inputs: &[Dims],
        _: &mut rand::rngs::StdRng,
    ) -> Result<Vec<Dims>> {
        Ok(inputs.to_vec())
    }
    fn forward(&self, x: &[&Tensor], m: &[Option<&Tensor>], _: bool) -> Result<Forward> {
        Ok(Forward::one(x[0].clone(), m[0].cloned()))
    }
    fn backward(&self, _: &Saved, dy: &[Tensor], _: &[bool]) -> Result<Backward> {
        Ok(Backward {
            inputs: vec![Some(dy[0].clone())],
            params: vec![],
        })
    }
}

#[test]
fn saving_needs_a_built_model_and_configs_for_every_layer() {
    let path = temp("unsaveable");
    let mut model = Sequential::new()
        .add(Dense::new(2).input_shape([3]))
        .add(Opaque);
    assert!(matches!(model.save(&path), Err(Error::Config(_)))); // not compiled
    model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    match model.save(&path) {
        Err(Error::Config(msg)) => assert!(msg.contains("'opaque' cannot be saved"), "{msg}"),
        r => panic!("{r:?}"),
    }
    assert!(!path.exists());
    let mut unbuilt = Sequential::new().add(Dense::new(2));
    unbuilt
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    assert!(matches!(unbuilt.save(&path), Err(Error::Config(m)) if m.contains("no weights")));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Printable bytes written over the header (the architecture JSON is in it; flips in
    /// the weights' data are harmless), or the file cut short: an error or a model, never a
    /// panic.
    #[test]
    fn the_loader_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), 0x20u8..0x7f), 1..4),
                               cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let path = temp(&format!("fuzz-{:?}", std::thread::current().id()));
        let mut bytes = saved(&path);
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        for (at, b) in flips {
            bytes[8 + at.index(header - 8)] = b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        std::fs::write(&path, &bytes).unwrap();
        let loaded = wgfit::load_model(&path, &Device::cpu());
        std::fs::remove_file(&path).unwrap();
        if let Err(e) = loaded {
            prop_assert!(matches!(e, Error::File { .. }), "{e:?}");
        }
    }

    /// Random edits of the architecture JSON's numbers: an error or a model, never a panic.
    #[test]
    fn odd_numbers_in_the_architecture_never_panic(k in any::<prop::sample::Index>(), value in prop_oneof![
        Just(json!(0)), Just(json!(-1)), Just(json!(u64::MAX)), Just(json!(1.5)),
        Just(json!(null)), Just(json!("x")), Just(json!(3)), Just(json!([]))]) {
        let path = temp(&format!("numbers-{:?}", std::thread::current().id()));
        let bytes = saved(&path);
        with_model(&path, &bytes, |m| {
            let mut count = 0;
            replace_nth(m, usize::MAX, &value, &mut count);
            let mut seen = 0;
            replace_nth(m, k.index(count), &value, &mut seen);
        });
        let loaded = wgfit::load_model(&path, &Device::cpu());
        std::fs::remove_file(&path).unwrap();
        if let Err(e) = loaded {
            prop_assert!(matches!(e, Error::File { .. }), "{e:?}");
        }
    }
}

/// Replaces the `k`th number or bool (depth first) in `v` with `value`.
fn replace_nth(v: &mut Value, k: usize, value: &Value, seen: &mut usize) {
    match v {
        Value::Number(_) | Value::Bool(_) => {
            if *seen == k {
                *v = value.clone();
            }
            *seen += 1;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_nth(x, k, value, seen)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_nth(x, k, value, seen)),
        _ => {}
    }
}

/// `bytes` with tensor `name` given shape `shape` and no bytes (a zero-size tensor), the
/// other tensors' bytes and offsets moved up to stay contiguous.
fn with_empty_tensor(bytes: &[u8], name: &str, shape: Value) -> Vec<u8> {
    let (mut header, data) = split(bytes);
    let mut entries: Vec<(String, usize, usize)> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .map(|(k, v)| {
            let o = &v["data_offsets"];
            (
                k.clone(),
                o[0].as_u64().unwrap() as usize,
                o[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    entries.sort_by_key(|e| e.1);
    let mut out = Vec::new();
    for (k, begin, end) in entries {
        let start = out.len();
        if k != name {
            out.extend_from_slice(&data[begin..end]);
        }
        header[&k]["data_offsets"] = json!([start, out.len()]);
    }
    header[name]["shape"] = shape;
    join(&header, &out)
}

#[test]
fn units_the_file_does_not_pay_for_are_refused_before_anything_is_allocated() {
    // Zero input features make the kernel [0, 4U] a tensor of no bytes whatever the units
    // (sizes are capped by the file's bytes, 5 768 here, not by their square): the recurrent
    // kernel [U, 4U] must be in the file too, or the LSTM would allocate 5 000 x 20 000 floats
    // and orthogonalise them (minutes of work) before any weight is read.
    let path = temp("unpaid");
    let bytes = saved(&path);
    let emptied = with_empty_tensor(&bytes, "layers.1.lstm.kernel", json!([0, 20_000]));
    with_model(&path, &emptied, |m| {
        m["inputs"][0]["shape"] = json!([null, 0]);
        m["layers"][1]["config"]["units"] = json!(5_000);
    });
    let (msg, tensor) = problem(&path);
    assert_eq!(
        tensor.as_deref(),
        Some("layers.1.lstm.recurrent_kernel"),
        "{msg}"
    );
    assert!(msg.contains("[5000, 20000]"), "{msg}");
    std::fs::remove_file(&path).unwrap();
}
