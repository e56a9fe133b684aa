//! Keras golden files (`tests/golden`, written by `tools/keras_golden.py`) and the parity
//! checks the README states: predictions 1e-5, first-batch loss 1e-5, gradients 1e-4, one
//! step 1e-5, two epochs 1e-4, per element relative to the tensor's scale.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use wgfit::prelude::*;
use wgfit::{History, Metric, OutputLoss};

pub const PREDICTIONS: f32 = 1e-5;
pub const FIRST_LOSS: f32 = 1e-5;
pub const GRADIENTS: f32 = 1e-4;
pub const ONE_STEP: f32 = 1e-5;
pub const TWO_EPOCHS: f32 = 1e-4;

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

pub struct Golden {
    pub name: String,
    tensors: BTreeMap<String, ArrayD<f32>>,
    pub info: serde_json::Value,
}

fn loss_of(name: &str) -> Loss {
    match name {
        "categorical_crossentropy" => Loss::CategoricalCrossentropy,
        "sparse_categorical_crossentropy" => Loss::SparseCategoricalCrossentropy,
        "binary_crossentropy" => Loss::BinaryCrossentropy,
        "mean_squared_error" | "mse" => Loss::MeanSquaredError,
        other => panic!("unknown loss {other}"),
    }
}

impl Golden {
    /// The f32 tensors of `tests/golden/{name}.safetensors`, by name.
    pub fn load_tensors(name: &str) -> BTreeMap<String, ArrayD<f32>> {
        let bytes = std::fs::read(dir().join(format!("{name}.safetensors"))).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        file.tensors()
            .into_iter()
            .map(|(n, t)| {
                let values = t
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (n, ArrayD::from_shape_vec(IxDyn(t.shape()), values).unwrap())
            })
            .collect()
    }

    pub fn load(name: &str) -> Golden {
        let tensors = Golden::load_tensors(name);
        let json = std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap();
        Golden {
            name: name.into(),
            tensors,
            info: serde_json::from_str(&json).unwrap(),
        }
    }

    pub fn tensor(&self, name: &str) -> &ArrayD<f32> {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("{}: no tensor {name}", self.name))
    }

    /// `x` or `x.0`, `x.1`... (one per model input; likewise `y`, `pred` per output).
    pub fn many(&self, base: &str) -> Vec<&ArrayD<f32>> {
        if let Some(t) = self.tensors.get(base) {
            return vec![t];
        }
        (0..)
            .map_while(|i| self.tensors.get(&format!("{base}.{i}")))
            .collect()
    }

    pub fn batch_size(&self) -> usize {
        self.info["batch_size"].as_u64().unwrap() as usize
    }

    pub fn optimizer(&self) -> Optimizer {
        let o = &self.info["optimizer"];
        let lr = o["learning_rate"].as_f64().unwrap() as f32;
        let f = |k: &str| o.get(k).and_then(|v| v.as_f64());
        match o["name"].as_str().unwrap() {
            "adam" => Optimizer::adam().learning_rate(lr),
            "rmsprop" => Optimizer::rmsprop().learning_rate(lr),
            "sgd" => Optimizer::sgd()
                .learning_rate(lr)
                .momentum(f("momentum").unwrap_or(0.0) as f32)
                .nesterov(o.get("nesterov").and_then(|v| v.as_bool()) == Some(true)),
            other => panic!("unknown optimizer {other}"),
        }
    }

    pub fn history(&self) -> BTreeMap<String, Vec<f32>> {
        self.info["history"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = v.as_array().unwrap();
                (
                    k.clone(),
                    v.iter().map(|x| x.as_f64().unwrap() as f32).collect(),
                )
            })
            .collect()
    }

    /// Compiles `model` afresh (new optimizer state) as the case compiled it in Keras: one
    /// loss and metric list, or per output (by name) with loss weights; then sets the golden
    /// initial weights, by wgfit's names (which must be Keras's).
    pub fn fresh(&self, model: &mut Model, device: &Device) {
        let loss = &self.info["loss"];
        let metrics =
            |v: &serde_json::Value| vec![Metric::Accuracy; v.as_array().map_or(0, Vec::len)];
        match loss.as_str() {
            Some(name) => model
                .compile(
                    device,
                    self.optimizer(),
                    loss_of(name),
                    &metrics(&self.info["metrics"]),
                )
                .unwrap(),
            None if self.info["compile"]["loss"].is_string() => {
                let c = &self.info["compile"];
                model
                    .compile(
                        device,
                        self.optimizer(),
                        loss_of(c["loss"].as_str().unwrap()),
                        &metrics(&c["metrics"]),
                    )
                    .unwrap()
            }
            None => {
                let heads: Vec<OutputLoss> = loss
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, l)| {
                        let weight = self.info["loss_weights"][name].as_f64().unwrap_or(1.0);
                        OutputLoss::new(name, loss_of(l.as_str().unwrap()))
                            .weight(weight as f32)
                            .metrics(&metrics(&self.info["metrics"][name]))
                    })
                    .collect();
                model
                    .compile_outputs(device, self.optimizer(), &heads)
                    .unwrap()
            }
        }
        let names: Vec<String> = model
            .get_weights()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        if let Some(keras) = self.info.get("weights").and_then(|w| w.as_array()) {
            let keras: Vec<&str> = keras.iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(
                names, keras,
                "{}: weights in Keras's model.get_weights() order",
                self.name
            );
        }
        let init: Vec<_> = names
            .iter()
            .map(|name| self.tensor(&format!("init.{name}")).clone())
            .collect();
        model.set_weights(&init).unwrap();
    }

    /// Checks `got` (wgfit's, by name) against the golden `{prefix}.{name}` tensors; every
    /// golden tensor of that prefix must be there.
    pub fn check_weights(&self, what: &str, got: &[(String, ArrayD<f32>)], prefix: &str, tol: f32) {
        let expected = self
            .tensors
            .keys()
            .filter(|k| k.starts_with(&format!("{prefix}.")))
            .count();
        assert_eq!(got.len(), expected, "{} {what}: weight count", self.name);
        for (name, value) in got {
            let want = self.tensor(&format!("{prefix}.{name}"));
            check(&format!("{} {what} {name}", self.name), value, want, tol);
        }
    }
}

/// Per element, `|got - want| / max(|want|, floor)`, where the floor is 1e-2 of the tensor's
/// largest magnitude: values near zero are held to the tensor's own scale, not to themselves
/// (at 1e-5 that is an absolute error of 1e-7 of the largest value, about one f32 ulp).
pub fn parity_err(got: &ArrayD<f32>, want: &ArrayD<f32>) -> f32 {
    if got.shape() != want.shape() {
        return f32::INFINITY;
    }
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let floor = (1e-2 * scale).max(f32::MIN_POSITIVE);
    got.iter()
        .zip(want)
        .map(|(&g, &w)| {
            if g.is_finite() {
                (g - w).abs() / w.abs().max(floor)
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

pub fn check(what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>, tol: f32) {
    let err = parity_err(got, want);
    assert!(
        err <= tol,
        "{what}: relative error {err:.3e} > {tol:.0e} (shapes {:?} vs {:?})",
        got.shape(),
        want.shape()
    );
}

pub fn check_scalar(what: &str, got: f32, want: f32, tol: f32) {
    let err = (got - want).abs() / want.abs().max(1e-6);
    assert!(
        err <= tol,
        "{what}: {got} vs Keras {want} (relative error {err:.3e} > {tol:.0e})"
    );
}

pub fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(super::gpu());
    d
}

fn first<'a>(arrays: &[&'a ArrayD<f32>], b: usize) -> Vec<ArrayViewD<'a, f32>> {
    arrays
        .iter()
        .map(|a| a.slice_axis(Axis(0), (0..b).into()))
        .collect()
}

fn all<'a>(arrays: &[&'a ArrayD<f32>]) -> Vec<ArrayViewD<'a, f32>> {
    arrays.iter().map(|a| a.view()).collect()
}

/// Every check of the README for one case on one device: predictions, the first batch's loss
/// and gradients, the weights after one `train_on_batch`, the history and weights after
/// `fit(epochs=2, shuffle=False)`. Several inputs and outputs as the case has them.
pub fn parity(name: &str, device: &Device, model: &mut Model) {
    let g = Golden::load(name);
    let (x, y, pred) = (g.many("x"), g.many("y"), g.many("pred"));
    assert!(
        !x.is_empty() && !y.is_empty() && y.len() == pred.len(),
        "{name}: tensors"
    );
    let b = g.batch_size();
    let on = format!("{name} on {}", device.info());

    g.fresh(model, device);
    let got = model.predict_many(all(&x)).unwrap();
    assert_eq!(got.len(), pred.len(), "{on}: outputs");
    for (k, (got, want)) in got.iter().zip(&pred).enumerate() {
        check(
            &format!("{on}: predictions of output {k}"),
            got,
            want,
            PREDICTIONS,
        );
    }
    let first_loss = model.evaluate(first(&x, b), first(&y, b)).unwrap();
    let keras_first = g.info["first_batch_loss"].as_f64().unwrap() as f32;
    check_scalar(
        &format!("{on}: first batch loss"),
        first_loss.loss,
        keras_first,
        FIRST_LOSS,
    );
    if let Some(each) = g
        .info
        .get("first_batch_losses")
        .and_then(|v| v.as_object())
        .filter(|o| o.len() > 1)
    {
        for (output, want) in each {
            let got = first_loss.get(&format!("{output}_loss")).unwrap();
            check_scalar(
                &format!("{on}: first batch {output}_loss"),
                got,
                want.as_f64().unwrap() as f32,
                FIRST_LOSS,
            );
        }
    }
    let grads = model.gradients(first(&x, b), first(&y, b)).unwrap();
    g.check_weights("gradient", &grads, "grad", GRADIENTS);

    let step_loss = model.train_on_batch(first(&x, b), first(&y, b)).unwrap();
    check_scalar(
        &format!("{on}: train_on_batch loss"),
        step_loss,
        keras_first,
        FIRST_LOSS,
    );
    g.check_weights(
        "after one step",
        &model.get_weights().unwrap(),
        "step1",
        ONE_STEP,
    );

    two_epochs(&g, model, device, &on, None);
}

/// The same keys as Keras, the same number of epochs under each, each value to 1e-4.
pub fn check_history(on: &str, got: &History, want: &BTreeMap<String, Vec<f32>>) {
    assert_eq!(
        got.history.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{on}"
    );
    for (key, values) in want {
        let got = got.get(key).unwrap();
        assert_eq!(got.len(), values.len(), "{on}: epochs of {key}");
        for (epoch, (&g, &w)) in got.iter().zip(values).enumerate() {
            check_scalar(
                &format!("{on}: history {key} epoch {}", epoch + 1),
                g,
                w,
                TWO_EPOCHS,
            );
        }
    }
}

/// The checks of [`parity`] for a case fit with Keras's `sample_weight` (tensor
/// `sample_weight`): predictions, the first batch's weighted loss, the weights after one
/// weighted step (a one-batch `fit`, which is `train_on_batch`), `evaluate` with weights over
/// all data, and the history and weights after `fit(epochs=2, shuffle=False)`.
pub fn weighted_parity(name: &str, device: &Device, model: &mut Model) {
    let g = Golden::load(name);
    let (x, y, pred) = (g.many("x"), g.many("y"), g.many("pred"));
    let w = g.tensor("sample_weight");
    let b = g.batch_size();
    let on = format!("{name} on {}", device.info());
    let wb = w.slice_axis(Axis(0), (0..b).into()).to_owned();

    g.fresh(model, device);
    for (k, (got, want)) in model
        .predict_many(all(&x))
        .unwrap()
        .iter()
        .zip(&pred)
        .enumerate()
    {
        check(
            &format!("{on}: predictions of output {k}"),
            got,
            want,
            PREDICTIONS,
        );
    }
    let first_loss = model
        .evaluate_weighted(first(&x, b), first(&y, b), &wb)
        .unwrap();
    let keras_first = g.info["first_batch_loss"].as_f64().unwrap() as f32;
    check_scalar(
        &format!("{on}: first batch loss"),
        first_loss.loss,
        keras_first,
        FIRST_LOSS,
    );
    let keras = &g.info["evaluate_weighted"];
    let eval = model.evaluate_weighted(all(&x), all(&y), w).unwrap();
    check_scalar(
        &format!("{on}: weighted evaluate loss"),
        eval.loss,
        keras["loss"].as_f64().unwrap() as f32,
        FIRST_LOSS,
    );
    for (key, value) in keras.as_object().unwrap() {
        if key.ends_with("accuracy") {
            let got = eval.get(key).unwrap_or_else(|| panic!("{on}: no {key}"));
            check_scalar(
                &format!("{on}: weighted evaluate {key}"),
                got,
                value.as_f64().unwrap() as f32,
                FIRST_LOSS,
            );
        }
    }
    let one_step = FitOptions::new()
        .batch_size(b)
        .shuffle(false)
        .sample_weight(wb.into_dyn())
        .verbose(0);
    model.fit(first(&x, b), first(&y, b), one_step).unwrap();
    g.check_weights(
        "after one weighted step",
        &model.get_weights().unwrap(),
        "step1",
        ONE_STEP,
    );

    two_epochs(&g, model, device, &on, Some(w));
}

/// From the initial weights with a fresh optimizer, `fit(epochs=2, shuffle=False)` (with the
/// sample weights when given): the history and the weights after it.
fn two_epochs(g: &Golden, model: &mut Model, device: &Device, on: &str, w: Option<&ArrayD<f32>>) {
    let (x, y) = (g.many("x"), g.many("y"));
    g.fresh(model, device);
    let mut opts = FitOptions::new()
        .batch_size(g.batch_size())
        .epochs(2)
        .shuffle(false)
        .verbose(0);
    if let Some(w) = w {
        opts = opts.sample_weight(w.clone());
    }
    let history = model.fit(all(&x), all(&y), opts).unwrap();
    check_history(on, &history, &g.history());
    g.check_weights(
        "after 2 epochs",
        &model.get_weights().unwrap(),
        "final",
        TWO_EPOCHS,
    );
}
