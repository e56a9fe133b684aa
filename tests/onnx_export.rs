//! `Model::export_onnx` checked in onnxruntime: models of every layer kind are exported with
//! two input sets each (batch 3 and 7; two sequence lengths, proving the axes dynamic) and
//! wgfit's predictions, and `tools/check_onnx.py` runs them in onnxruntime and compares at
//! 1e-5. Sequences are post-padded with random lengths (the padding the export is exact for).

mod common;

use ndarray::{ArrayD, IxDyn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;
use wgfit::{
    Average, Bidirectional, Dropout, Gru, MergeMode, Normalization, SimpleRnn, SpatialDropout1D,
};

/// What one model input holds, per sample.
#[derive(Clone, Copy)]
enum Feed {
    /// `[T, F]` values, post-padded with zeros past each sample's random length.
    Steps(usize),
    /// `[T]` token ids in `1..vocab`, post-padded with 0.
    Ids(usize),
    /// `[F]` values.
    Flat(usize),
    /// `[T, F]` values with a fixed `T`, every step kept.
    Fixed(usize, usize),
}

fn feed(rng: &mut StdRng, f: Feed, batch: usize, steps: usize) -> ArrayD<f32> {
    let lengths: Vec<usize> = (0..batch)
        .map(|b| {
            if b == 0 {
                steps
            } else {
                rng.random_range(1..=steps)
            }
        })
        .collect();
    match f {
        Feed::Steps(n) => ArrayD::from_shape_fn(IxDyn(&[batch, steps, n]), |i| {
            if i[1] < lengths[i[0]] {
                rng.random_range(0.1f32..1.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 }
            } else {
                0.0
            }
        }),
        Feed::Ids(vocab) => ArrayD::from_shape_fn(IxDyn(&[batch, steps]), |i| {
            if i[1] < lengths[i[0]] {
                rng.random_range(1..vocab) as f32
            } else {
                0.0
            }
        }),
        Feed::Flat(n) => ArrayD::from_shape_fn(IxDyn(&[batch, n]), |_| rng.random_range(-2.0..2.0)),
        Feed::Fixed(t, n) => {
            ArrayD::from_shape_fn(IxDyn(&[batch, t, n]), |_| rng.random_range(-1.0..1.0))
        }
    }
}

/// Exports `model` as `dir/case.onnx` with two input sets and wgfit's predictions for them.
fn export(dir: &std::path::Path, case: &str, model: &mut Model, feeds: &[Feed]) {
    model
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let mut rng = StdRng::seed_from_u64(case.len() as u64);
    for (set, (batch, steps)) in [("a", (3, 5)), ("b", (7, 9))] {
        let xs: Vec<ArrayD<f32>> = feeds
            .iter()
            .map(|&f| feed(&mut rng, f, batch, steps))
            .collect();
        let ys = model.predict_many(&xs).unwrap();
        for (k, x) in xs.iter().enumerate() {
            ndarray_npy::write_npy(dir.join(format!("{case}.{set}.in{k}.npy")), x).unwrap();
        }
        for (k, y) in ys.iter().enumerate() {
            ndarray_npy::write_npy(dir.join(format!("{case}.{set}.out{k}.npy")), y).unwrap();
        }
    }
    model.export_onnx(dir.join(format!("{case}.onnx"))).unwrap();
}

fn masked(features: usize) -> (Node, Node) {
    let x = Input::named([None, Some(features)], "steps");
    let m = Masking::new(0.0).call(&x);
    (x, m)
}

fn dense(units: usize, act: Activation) -> Dense {
    Dense::new(units).activation(act)
}

/// Every case of the suite, exported into `dir`.
fn export_all(dir: &std::path::Path) {
    let (x, m) = masked(3);
    let y = Lstm::new(5).return_sequences(true).call(&m);
    export(
        dir,
        "masked_lstm_sequences",
        &mut Model::new(&x, &y).unwrap(),
        &[Feed::Steps(3)],
    );

    let (x, m) = masked(4);
    let h = Lstm::new(6).return_sequences(true).call(&m);
    let h = Gru::new(4).call(&h);
    let y = dense(2, Activation::Softmax).call(&h);
    export(
        dir,
        "stacked_lstm_gru",
        &mut Model::new(&x, &y).unwrap(),
        &[Feed::Steps(4)],
    );

    for (case, after) in [("gru_reset_after", true), ("gru_reset_before", false)] {
        let (x, m) = masked(3);
        let seq = Gru::new(5)
            .reset_after(after)
            .return_sequences(true)
            .call(&m);
        let last = Gru::new(3).reset_after(after).call(&m);
        let mut model = Model::new(&x, &[&seq, &last]).unwrap();
        export(dir, case, &mut model, &[Feed::Steps(3)]);
    }

    let (x, m) = masked(2);
    let rnn = SimpleRnn::new(4)
        .return_sequences(true)
        .return_state(true)
        .call(&m);
    let outs = [rnn.output(0).unwrap(), rnn.output(1).unwrap()];
    export(
        dir,
        "simple_rnn_state",
        &mut Model::new(&x, &outs).unwrap(),
        &[Feed::Steps(2)],
    );

    let (x, m) = masked(3);
    let y = Bidirectional::new(Lstm::new(4).return_sequences(true)).call(&m);
    export(
        dir,
        "bidirectional_lstm_concat",
        &mut Model::new(&x, &y).unwrap(),
        &[Feed::Steps(3)],
    );

    let (x, m) = masked(3);
    let y = Bidirectional::new(Gru::new(5))
        .merge_mode(MergeMode::Sum)
        .call(&m);
    export(
        dir,
        "bidirectional_gru_sum",
        &mut Model::new(&x, &y).unwrap(),
        &[Feed::Steps(3)],
    );

    let (x, m) = masked(2);
    let both = Bidirectional::new(Lstm::new(3).return_sequences(true).return_state(true))
        .merge_mode(MergeMode::None)
        .call(&m);
    let outs: Vec<Node> = (0..6).map(|k| both.output(k).unwrap()).collect();
    export(
        dir,
        "bidirectional_lstm_states",
        &mut Model::new(&x, &outs).unwrap(),
        &[Feed::Steps(2)],
    );

    let ids = Input::named([None], "tokens");
    let e = Embedding::new(11, 4).mask_zero(true).call(&ids);
    let y = dense(1, Activation::Sigmoid).call(&Lstm::new(5).call(&e));
    export(
        dir,
        "embedding_mask_zero",
        &mut Model::new(&ids, &y).unwrap(),
        &[Feed::Ids(11)],
    );

    let mut mlp = Sequential::new()
        .add(dense(7, Activation::Relu).input_shape([5]))
        .add(Dropout::new(0.3))
        .add(dense(4, Activation::Tanh))
        .add(dense(3, Activation::Softmax));
    export(dir, "mlp_dropout", &mut mlp, &[Feed::Flat(5)]);

    let norm = Normalization::new().mean_variance(vec![0.5, -1.0, 2.0], vec![4.0, 0.25, 0.0]);
    let mut model = Sequential::new()
        .add(norm.input_shape([Some(3)]))
        .add(dense(2, Activation::Linear));
    export(dir, "normalization", &mut model, &[Feed::Flat(3)]);

    let x = Input::named([Some(6), Some(3)], "window");
    let h = SpatialDropout1D::new(0.2).call(&x);
    let y = dense(2, Activation::Sigmoid).call(&Flatten::new().call(&h));
    export(
        dir,
        "spatial_dropout_flatten",
        &mut Model::new(&x, &y).unwrap(),
        &[Feed::Fixed(6, 3)],
    );

    let (seq, m) = masked(3);
    let meta = Input::named([Some(4)], "meta");
    let h = Lstm::new(4).call(&m);
    let a = dense(4, Activation::Relu).call(&meta);
    let sum = Add::new().call_many(&[&h, &a]);
    let joined = Concatenate::new().call_many(&[&sum, &meta]);
    let y = dense(2, Activation::Softmax).call(&joined);
    let mut model = Model::new(&[&seq, &meta], &y).unwrap();
    export(
        dir,
        "two_inputs_merge",
        &mut model,
        &[Feed::Steps(3), Feed::Flat(4)],
    );

    let (a, b) = (Input::named([Some(4)], "a"), Input::named([Some(4)], "b"));
    let merged: Vec<Node> = vec![
        Subtract::new().call_many(&[&a, &b]),
        Multiply::new().call_many(&[&a, &b]),
        Average::new().call_many(&[&a, &b, &a]),
        Maximum::new().call_many(&[&a, &b]),
        Minimum::new().call_many(&[&a, &b]),
    ];
    let joined = Concatenate::new().call_many(&merged.iter().collect::<Vec<_>>());
    let y = Dense::new(3).use_bias(false).call(&joined);
    let inverted = Normalization::new()
        .mean_variance(vec![1.0, -2.0, 0.5], vec![9.0, 1e-20, 2.0])
        .invert(true)
        .call(&y);
    let mut model = Model::new(&[&a, &b], &inverted).unwrap();
    export(
        dir,
        "merges_normalization_invert",
        &mut model,
        &[Feed::Flat(4), Feed::Flat(4)],
    );

    let (seq, m) = masked(3);
    let (h_f, h_b) = (
        Input::named([Some(4)], "h_f"),
        Input::named([Some(4)], "h_b"),
    );
    let y = Bidirectional::new(Gru::new(4).return_sequences(true))
        .merge_mode(MergeMode::Ave)
        .call_many(&[&m, &h_f, &h_b]);
    let rnn = Bidirectional::new(SimpleRnn::new(2))
        .merge_mode(MergeMode::Mul)
        .call(&m);
    let mut model = Model::new(&[&seq, &h_f, &h_b], &[&y, &rnn]).unwrap();
    let feeds = [Feed::Steps(3), Feed::Flat(4), Feed::Flat(4)];
    export(
        dir,
        "bidirectional_initial_states_ave_mul",
        &mut model,
        &feeds,
    );

    let (seq, m) = masked(2);
    let (h0, c0) = (Input::named([Some(3)], "h0"), Input::named([Some(3)], "c0"));
    let y = Lstm::new(3)
        .return_sequences(true)
        .call_many(&[&m, &h0, &c0]);
    let mut model = Model::new(&[&seq, &h0, &c0], &y).unwrap();
    let states = [Feed::Steps(2), Feed::Flat(3), Feed::Flat(3)];
    export(dir, "lstm_initial_state", &mut model, &states);
}

#[test]
fn exported_models_predict_in_onnxruntime_as_in_wgfit() {
    let dir = std::env::temp_dir().join(format!("wgfit-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    export_all(&dir);
    let Some(py) = common::python::python(&["numpy", "onnxruntime"]) else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/check_onnx.py");
    let out = common::python::run(&py, script, &[dir.to_str().unwrap()]);
    println!("{out}");
    assert!(out.contains("16 models, 0 misses"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_layer_onnx_does_not_know_is_an_error_naming_it() {
    struct Twice;
    impl wgfit::Layer for Twice {
        fn kind(&self) -> &'static str {
            "twice"
        }
        fn build(
            &mut self,
            _: &Device,
            inputs: &[wgfit::layers::Dims],
            _: &mut StdRng,
        ) -> Result<Vec<wgfit::layers::Dims>> {
            Ok(inputs.to_vec())
        }
        fn forward(
            &self,
            inputs: &[&Tensor],
            masks: &[Option<&Tensor>],
            _: bool,
        ) -> Result<wgfit::layers::Forward> {
            let y = ops::elementwise::affine(inputs[0], 2.0, 0.0)?;
            Ok(wgfit::layers::Forward::one(y, masks[0].cloned()))
        }
        fn backward(
            &self,
            _: &wgfit::layers::Saved,
            dy: &[Tensor],
            _: &[bool],
        ) -> Result<wgfit::layers::Backward> {
            let dx = ops::elementwise::affine(&dy[0], 2.0, 0.0)?;
            Ok(wgfit::layers::Backward {
                inputs: vec![Some(dx)],
                params: Vec::new(),
            })
        }
    }
    let x = Input::new([Some(3)]);
    let y = dense(2, Activation::Linear).call(&Twice.name("doubler").call(&x));
    let mut model = Model::new(&x, &y).unwrap();
    model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let path = std::env::temp_dir().join(format!("wgfit-onnx-bad-{}.onnx", std::process::id()));
    let err = model.export_onnx(&path).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        text.contains("layer 0 ('doubler')") && text.contains("ONNX"),
        "{text}"
    );
    assert!(!path.exists());
}

#[test]
fn an_unbuilt_model_is_a_config_error() {
    let model = Sequential::new().add(Dense::new(2));
    let path = std::env::temp_dir().join("wgfit-onnx-unbuilt.onnx");
    let err = model.export_onnx(&path).unwrap_err();
    assert!(err.to_string().contains("no weights yet"), "{err}");
}
