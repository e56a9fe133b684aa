//! Whole models in one file: every built-in layer kind (in Sequential and graph models, with
//! several inputs and outputs, merges, a shared layer, states passed between layers) is
//! trained, saved, loaded on the same device and checked: the same layers and names, the same
//! predictions bit for bit, and one more epoch of training from the loaded model (optimizer
//! state and dropout streams restored) equal bit for bit to the saved model's own next epoch.
//! Also: a user's layer loads once registered, and a file saved without the optimizer.

mod common;

use std::ops::DerefMut;

use ndarray::{Array1, Array2, Array3, ArrayD};
use rand::{Rng, SeedableRng, rngs::StdRng};
use wgfit::layers::{Backward, Dims, Forward, Layer, LayerConfig, Saved};
use wgfit::ops::elementwise::affine;
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(common::gpu());
    d
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("wgfit-model-{name}-{}.wgfit", std::process::id()))
}

/// A model, its inputs and its targets.
type Case = (
    Box<dyn DerefMut<Target = Model>>,
    Vec<ArrayD<f32>>,
    Vec<ArrayD<f32>>,
);

/// Makes a case on a device from a random stream.
type MakeCase = fn(&Device, &mut StdRng) -> Result<Case>;

fn values(rng: &mut StdRng, shape: &[usize]) -> ArrayD<f32> {
    ArrayD::from_shape_fn(shape, |_| rng.random_range(-1.0f32..1.0))
}

fn one_hot(rng: &mut StdRng, n: usize, c: usize) -> ArrayD<f32> {
    let mut y = Array2::<f32>::zeros((n, c));
    for mut row in y.rows_mut() {
        row[rng.random_range(0..c)] = 1.0;
    }
    y.into_dyn()
}

fn dense(device: &Device, rng: &mut StdRng) -> Result<Case> {
    let mut m = Sequential::new()
        .seed(1)
        .add(Dense::new(6).activation(Activation::Relu).input_shape([5]))
        .add(Dense::new(4).use_bias(false).activation(Activation::Tanh))
        .add(Dense::new(3).activation(Activation::Softmax));
    m.compile(
        device,
        Optimizer::adam().learning_rate(0.01),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let x = values(rng, &[11, 5]);
    Ok((Box::new(m), vec![x], vec![one_hot(rng, 11, 3)]))
}

fn embedding_lstm(device: &Device, rng: &mut StdRng) -> Result<Case> {
    let mut m = Sequential::new()
        .seed(2)
        .add(Embedding::new(12, 4).mask_zero(true))
        .add(Lstm::new(6).dropout(0.2).recurrent_dropout(0.1).seed(3))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    m.compile(
        device,
        Optimizer::adam(),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    // Post-padded ids: the padding is masked.
    let x = ArrayD::from_shape_fn(vec![9, 7], |i| {
        if i[1] > 2 + i[0] % 4 {
            0.0
        } else {
            rng.random_range(1..12) as f32
        }
    });
    let y = Array1::from_shape_fn(9, |i| (i % 2) as f32).into_dyn();
    Ok((Box::new(m), vec![x], vec![y]))
}

fn masking_gru_simple_rnn(device: &Device, rng: &mut StdRng) -> Result<Case> {
    let mut m = Sequential::new()
        .seed(4)
        .input_shape([None, Some(3)])
        .add(Masking::new(0.0))
        .add(Gru::new(5).return_sequences(true).reset_after(false))
        .add(Gru::new(4).return_sequences(true).recurrent_dropout(0.2))
        .add(SpatialDropout1D::new(0.3))
        .add(SimpleRnn::new(3).dropout(0.1))
        .add(Dense::new(2));
    m.compile(
        device,
        Optimizer::rmsprop().momentum(0.5),
        Loss::MeanSquaredError,
        &[],
    )?;
    let mut x = values(rng, &[10, 6, 3]);
    for b in 0..10 {
        for t in 6 - b % 3..6 {
            x.slice_mut(ndarray::s![b, t, ..]).fill(0.0);
        }
    }
    Ok((Box::new(m), vec![x], vec![values(rng, &[10, 2])]))
}

fn bidirectional(device: &Device, rng: &mut StdRng) -> Result<Case> {
    let x = Input::new([None, Some(3)]);
    let summed = Bidirectional::new(Lstm::new(4).return_sequences(true))
        .merge_mode(MergeMode::Sum)
        .call(&x);
    let both = Bidirectional::new(Gru::new(3).dropout(0.2))
        .merge_mode(MergeMode::None)
        .call(&summed);
    let ave = Bidirectional::new(SimpleRnn::new(2))
        .merge_mode(MergeMode::Ave)
        .call(&x);
    let concat = Bidirectional::new(Gru::new(2).reset_after(false)).call(&x);
    let mul = Bidirectional::new(SimpleRnn::new(2))
        .merge_mode(MergeMode::Mul)
        .call(&x);
    let joined =
        Concatenate::new().call_many(&[&both.output(0)?, &both.output(1)?, &ave, &concat, &mul]);
    let mut m = Model::new(&x, &Dense::new(1).call(&joined))?.seed(5);
    m.compile(device, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    Ok((
        Box::new(Box::new(m)),
        vec![values(rng, &[8, 5, 3])],
        vec![values(rng, &[8, 1])],
    ))
}

fn merges_two_outputs(device: &Device, rng: &mut StdRng) -> Result<Case> {
    let xa = values(rng, &[12, 4]).mapv(|v| 3.0 * v + 1.0);
    let mut norm = Normalization::new();
    norm.adapt(&xa)?;
    let a = Input::named([Some(4)], "a");
    let b = Input::named([Some(2), Some(2)], "b");
    let shared = Shared::new(Dense::new(4).activation(Activation::Tanh));
    let (pa, pb) = (
        shared.call(&norm.call(&a)),
        shared.call(&Flatten::new().call(&b)),
    );
    let merged: Vec<Node> = vec![
        Add::new().call_many(&[&pa, &pb]),
        Subtract::new().call_many(&[&pa, &pb]),
        Multiply::new().call_many(&[&pa, &pb]),
        Average::new().call_many(&[&pa, &pb]),
        Maximum::new().call_many(&[&pa, &pb]),
        Minimum::new().call_many(&[&pa, &pb]),
    ];
    let h =
        Dropout::new(0.3).call(&Concatenate::new().call_many(&merged.iter().collect::<Vec<_>>()));
    let cls = Dense::new(3)
        .activation(Activation::Softmax)
        .name("cls")
        .call(&h);
    let reg = Dense::new(1).name("reg").call(&h);
    let mut m = Model::new(&[&a, &b], &[&cls, &reg])?.seed(6);
    m.compile_outputs(
        device,
        Optimizer::sgd()
            .learning_rate(0.05)
            .momentum(0.9)
            .nesterov(true),
        &[
            OutputLoss::new("cls", Loss::CategoricalCrossentropy).metrics(&[Metric::Accuracy]),
            OutputLoss::new("reg", Loss::MeanSquaredError).weight(0.5),
        ],
    )?;
    let xb = values(rng, &[12, 2, 2]);
    Ok((
        Box::new(Box::new(m)),
        vec![xa, xb],
        vec![one_hot(rng, 12, 3), values(rng, &[12, 1])],
    ))
}

fn encoder_decoder(device: &Device, rng: &mut StdRng) -> Result<Case> {
    let enc = Input::new([None, Some(3)]);
    let dec = Input::new([None, Some(2)]);
    let states = Lstm::new(4).return_state(true).call(&enc);
    let (h, c) = (states.output(1)?, states.output(2)?);
    let seq = Lstm::new(4)
        .return_sequences(true)
        .call_many(&[&dec, &h, &c]);
    let out = Dense::new(2).activation(Activation::Softmax).call(&seq);
    let mut m = Model::new(&[&enc, &dec], &out)?.seed(7);
    m.compile(
        device,
        Optimizer::adam(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let y = ArrayD::from_shape_fn(vec![6, 4], |_| rng.random_range(0..2) as f32);
    Ok((
        Box::new(Box::new(m)),
        vec![values(rng, &[6, 5, 3]), values(rng, &[6, 4, 2])],
        vec![y],
    ))
}

fn views(a: &[ArrayD<f32>]) -> Vec<ndarray::ArrayViewD<'_, f32>> {
    a.iter().map(|a| a.view()).collect()
}

fn fit_epoch(m: &mut Model, x: &[ArrayD<f32>], y: &[ArrayD<f32>], epoch: usize) -> Result<()> {
    let opts = FitOptions::new()
        .batch_size(4)
        .epochs(epoch + 1)
        .initial_epoch(epoch)
        .verbose(0);
    m.fit(views(x), views(y), opts).map(|_| ())
}

#[test]
fn every_layer_kind_round_trips_and_trains_on_as_if_never_saved() {
    let cases: [(&str, MakeCase); 6] = [
        ("dense", dense),
        ("embedding_lstm", embedding_lstm),
        ("masking_gru_simple_rnn", masking_gru_simple_rnn),
        ("bidirectional", bidirectional),
        ("merges_two_outputs", merges_two_outputs),
        ("encoder_decoder", encoder_decoder),
    ];
    for device in devices() {
        for (name, make) in cases {
            let ctx = format!("{name} on {:?}", device.info());
            let mut rng = StdRng::seed_from_u64(11);
            let (mut model, x, y) = make(&device, &mut rng).unwrap();
            // Trained first: moved weights, optimizer state, dropout calls drawn.
            fit_epoch(&mut model, &x, &y, 0).unwrap();
            let path = temp(name);
            model.save(&path).unwrap();
            let mut loaded = wgfit::load_model(&path, &device).unwrap();
            std::fs::remove_file(&path).unwrap();
            assert_eq!(loaded.layer_names(), model.layer_names(), "{ctx}");
            assert_eq!(loaded.output_names(), model.output_names(), "{ctx}");
            assert_eq!(loaded.summary(), model.summary(), "{ctx}");
            assert_eq!(
                loaded.get_weights().unwrap(),
                model.get_weights().unwrap(),
                "{ctx}"
            );
            let (got, want) = (
                loaded.predict_many(views(&x)).unwrap(),
                model.predict_many(views(&x)).unwrap(),
            );
            assert_eq!(got, want, "{ctx}: predictions after load");
            // The next epoch from the file equals the saved model's own next epoch.
            fit_epoch(&mut model, &x, &y, 1).unwrap();
            fit_epoch(&mut loaded, &x, &y, 1).unwrap();
            assert_eq!(
                loaded.get_weights().unwrap(),
                model.get_weights().unwrap(),
                "{ctx}: trained on"
            );
            let (got, want) = (
                loaded.evaluate(views(&x), views(&y)).unwrap(),
                model.evaluate(views(&x), views(&y)).unwrap(),
            );
            assert_eq!(got, want, "{ctx}: evaluate");
        }
    }
}

#[test]
fn without_the_optimizer_the_file_predicts_the_same_and_trains_from_fresh_state() {
    let device = Device::cpu();
    let mut rng = StdRng::seed_from_u64(3);
    let (mut model, x, y) = dense(&device, &mut rng).unwrap();
    fit_epoch(&mut model, &x, &y, 0).unwrap();
    let (full, light) = (temp("full"), temp("light"));
    model.save(&full).unwrap();
    model.save_without_optimizer(&light).unwrap();
    let size = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&light) < size(&full));
    let mut loaded = wgfit::load_model(&light, &device).unwrap();
    assert_eq!(
        loaded.predict(&x[0]).unwrap(),
        model.predict(&x[0]).unwrap()
    );
    // Adam from step 0 moves the weights otherwise than Adam at step 3.
    fit_epoch(&mut model, &x, &y, 1).unwrap();
    fit_epoch(&mut loaded, &x, &y, 1).unwrap();
    assert_ne!(loaded.get_weights().unwrap(), model.get_weights().unwrap());
    for p in [full, light] {
        std::fs::remove_file(p).unwrap();
    }
}

/// A user's layer: multiplies by a constant, saved as `{"factor": f}`.
struct Scale(f32);

impl Layer for Scale {
    fn kind(&self) -> &'static str {
        "scale"
    }
    fn build(&mut self, _: &Device, inputs: &[Dims], _: &mut StdRng) -> Result<Vec<Dims>> {
        Ok(inputs.to_vec())
    }
    fn forward(&self, x: &[&Tensor], masks: &[Option<&Tensor>], _: bool) -> Result<Forward> {
        Ok(Forward::one(affine(x[0], self.0, 0.0)?, masks[0].cloned()))
    }
    fn backward(&self, _: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let dx = need_dx[0]
            .then(|| affine(&dy[0], self.0, 0.0))
            .transpose()?;
        Ok(Backward {
            inputs: vec![dx],
            params: Vec::new(),
        })
    }
    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("tests.Scale").with("factor", self.0))
    }
}

#[test]
fn a_registered_layer_of_ones_own_loads() {
    let mut model = Sequential::new()
        .add(Dense::new(3).input_shape([2]))
        .add(Scale(2.5).name("scaled"))
        .add(Dense::new(1));
    model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let path = temp("custom");
    model.save(&path).unwrap();
    wgfit::register_layer("tests.Scale", |c: &LayerConfig| {
        Ok(Box::new(Scale(c.float("factor")?)) as Box<dyn Layer>)
    })
    .unwrap();
    let mut loaded = wgfit::load_model(&path, &Device::cpu()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.layer_names(), ["dense", "scaled", "dense_1"]);
    let x = Array3::<f32>::from_shape_fn((4, 1, 2), |(i, _, j)| (i * 2 + j) as f32)
        .into_shape_with_order((4, 2))
        .unwrap();
    assert_eq!(loaded.predict(&x).unwrap(), model.predict(&x).unwrap());
}
