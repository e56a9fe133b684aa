//! Graph models beyond Keras's golden files: gradients against finite differences, a
//! generator whose batches change shape, every `FitOptions` field against every source of
//! data, the trainer's callbacks and validation, data checked before the first step, and the
//! errors a graph can raise while it is put together.

mod common;

use std::sync::{Arc, Mutex};

use common::{check_finite_differences, gpu};
use ndarray::{Array1, Array2, Array3, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::History;
use wgfit::callbacks::{Callback, Control, EarlyStopping};
use wgfit::prelude::*;

/// `n` sequences of `t` steps (lengths 1..=t, post-padded with zeros) of `f` features.
fn sequences(rng: &mut StdRng, n: usize, t: usize, f: usize) -> Array3<f32> {
    let mut x = Array3::zeros((n, t, f));
    for i in 0..n {
        let len = rng.random_range(1..=t);
        for s in 0..len {
            for k in 0..f {
                x[[i, s, k]] =
                    rng.random_range(0.1f32..1.0) * if rng.random() { 1.0 } else { -1.0 };
            }
        }
    }
    x
}

fn normal(rng: &mut StdRng, shape: &[usize]) -> ArrayD<f32> {
    ArrayD::from_shape_fn(shape, |_| rng.random_range(-1.0f32..1.0))
}

fn labels(rng: &mut StdRng, n: usize, classes: usize) -> Array1<f32> {
    Array1::from_shape_fn(n, |_| rng.random_range(0..classes) as f32)
}

/// Masked LSTM branch and a Dense branch, concatenated, one sigmoid output.
fn two_branches() -> (Model, [Node; 2]) {
    let seq = Input::named([None, Some(3)], "seq");
    let stat = Input::named([Some(2)], "static");
    let h = Lstm::new(3).call(&Masking::new(0.0).call(&seq));
    let d = Dense::new(2).activation(Activation::Tanh).call(&stat);
    let out = Dense::new(1)
        .activation(Activation::Sigmoid)
        .call(&Concatenate::new().call_many(&[&h, &d]));
    (Model::new(&[&seq, &stat], &[&out]).unwrap(), [seq, stat])
}

#[test]
fn graph_gradients_match_finite_differences() {
    let device = Device::cpu();
    let mut rng = StdRng::seed_from_u64(3);

    let (mut model, _) = two_branches();
    model
        .compile(&device, Optimizer::sgd(), Loss::BinaryCrossentropy, &[])
        .unwrap();
    let (seq, stat) = (sequences(&mut rng, 4, 5, 3), normal(&mut rng, &[4, 2]));
    let y = labels(&mut rng, 4, 2);
    check_finite_differences(
        &mut model,
        [seq.view().into_dyn(), stat.view()],
        &y,
        "two inputs",
    );

    // Two outputs with weighted losses; the trunk's gradient is the weighted sum of both.
    let x = Input::new([Some(4)]);
    let h = Dense::new(3).activation(Activation::Tanh).call(&x);
    let cls = Dense::new(3)
        .activation(Activation::Softmax)
        .name("cls")
        .call(&h);
    let reg = Dense::new(1).name("reg").call(&h);
    let mut model = Model::new(&x, &[&cls, &reg]).unwrap();
    model
        .compile_outputs(
            &device,
            Optimizer::sgd(),
            &[
                OutputLoss::new("cls", Loss::SparseCategoricalCrossentropy),
                OutputLoss::new("reg", Loss::MeanSquaredError).weight(0.3),
            ],
        )
        .unwrap();
    let xs = normal(&mut rng, &[5, 4]);
    let (ids, values) = (labels(&mut rng, 5, 3), normal(&mut rng, &[5, 1]));
    check_finite_differences(
        &mut model,
        &xs,
        [ids.view().into_dyn(), values.view()],
        "two outputs",
    );

    // One layer at two places, and fan-out from one node into every merge layer.
    let (a, b) = (Input::new([Some(3)]), Input::new([Some(3)]));
    let shared = Shared::new(Dense::new(3).activation(Activation::Tanh));
    let (sa, sb) = (shared.call(&a), shared.call(&b));
    let merged = [
        Add::new().call_many(&[&sa, &sb]),
        Subtract::new().call_many(&[&sa, &sb]),
        Multiply::new().call_many(&[&sa, &sb]),
        Average::new().call_many(&[&sa, &sb, &sa]),
        Maximum::new().call_many(&[&sa, &sb]),
        Minimum::new().call_many(&[&sa, &sb]),
    ];
    let refs: Vec<&Node> = merged.iter().collect();
    let out = Dense::new(1).call(&Concatenate::new().call_many(&refs));
    let mut model = Model::new(&[&a, &b], &[&out]).unwrap().seed(5);
    model
        .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
        .unwrap();
    let (xa, xb) = (normal(&mut rng, &[6, 3]), normal(&mut rng, &[6, 3]));
    let y = normal(&mut rng, &[6, 1]);
    check_finite_differences(
        &mut model,
        [xa.view(), xb.view()],
        &y,
        "shared layer, merges",
    );

    // Masked sequences: merged step by step (masks ORed, masked values replaced), and
    // concatenated along time.
    let (p, q) = (Input::new([None, Some(2)]), Input::new([None, Some(2)]));
    let hp = Lstm::new(2)
        .return_sequences(true)
        .call(&Masking::new(0.0).call(&p));
    let hq = Lstm::new(2)
        .return_sequences(true)
        .call(&Masking::new(0.0).call(&q));
    let prod = Multiply::new().call_many(&[&hp, &hq]);
    let sum = Add::new().call_many(&[&hp, &hq]);
    let time = Concatenate::new().axis(1).call_many(&[&prod, &sum]);
    let out = Dense::new(1).call(&Lstm::new(2).call(&time));
    let mut model = Model::new(&[&p, &q], &[&out]).unwrap();
    model
        .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
        .unwrap();
    let (xp, xq) = (sequences(&mut rng, 3, 4, 2), sequences(&mut rng, 3, 4, 2));
    let y = normal(&mut rng, &[3, 1]);
    check_finite_differences(
        &mut model,
        [xp.view().into_dyn(), xq.view().into_dyn()],
        &y,
        "masked merges",
    );
}

/// Batch `b` of every epoch: `b + 2` sequences of `3 + 2 b` steps.
fn shifting_batches(epoch: usize) -> impl Iterator<Item = (Array3<f32>, Array1<f32>)> {
    (0..3).map(move |b| {
        let mut rng = StdRng::seed_from_u64((epoch * 10 + b) as u64);
        let x = sequences(&mut rng, b + 2, 3 + 2 * b, 3);
        (x, labels(&mut rng, b + 2, 2))
    })
}

fn masked_lstm() -> Sequential {
    Sequential::new()
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(Lstm::new(4))
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

#[test]
fn a_generator_whose_batches_change_shape_trains_in_one_fit() {
    let mut losses = Vec::new();
    for device in std::iter::once(Device::cpu()).chain(gpu()) {
        let mut model = masked_lstm();
        model
            .compile(
                &device,
                Optimizer::adam().learning_rate(0.01),
                Loss::BinaryCrossentropy,
                &[Metric::Accuracy],
            )
            .unwrap();
        let before = model.get_weights().unwrap();
        let history = model
            .fit_generator(shifting_batches, FitOptions::new().epochs(3).verbose(0))
            .unwrap();
        assert_eq!(history.loss().len(), 3, "on {}", device.info());
        assert_eq!(history.get("accuracy").map(<[f32]>::len), Some(3));
        assert_ne!(
            model.get_weights().unwrap(),
            before,
            "it trained on {}",
            device.info()
        );
        losses.push(history.loss().to_vec());
    }
    if let [cpu, gpu] = &losses[..] {
        for (c, g) in cpu.iter().zip(gpu) {
            assert!(
                (c - g).abs() <= 1e-4 * c.abs().max(1.0),
                "CPU {cpu:?} vs GPU {gpu:?}"
            );
        }
    }
}

#[test]
fn a_generator_batch_is_checked_as_it_comes_and_named_by_batch_and_row() {
    let mut model = masked_lstm();
    model
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::BinaryCrossentropy,
            &[],
        )
        .unwrap();
    let bad = |epoch: usize| {
        shifting_batches(epoch).enumerate().map(|(b, (x, mut y))| {
            if b == 2 {
                y[1] = f32::NAN;
            }
            (x, y)
        })
    };
    match model.fit_generator(bad, FitOptions::new().verbose(0)) {
        Err(Error::NonFinite {
            what: "y",
            batch: Some(2),
            sample: 1,
        }) => {}
        r => panic!("{r:?}"),
    }
    // An endless generator needs steps_per_epoch, which ends each epoch.
    let endless = |_epoch: usize| {
        (0..).map(|b: u64| {
            let mut rng = StdRng::seed_from_u64(b);
            (sequences(&mut rng, 2, 3, 3), labels(&mut rng, 2, 2))
        })
    };
    let history = model
        .fit_generator(
            endless,
            FitOptions::new().epochs(2).steps_per_epoch(4).verbose(0),
        )
        .unwrap();
    assert_eq!(history.loss().len(), 2);
}

/// Counts the batches of each epoch (`on_batch_end`) and the epochs.
#[derive(Debug, Default)]
struct Counter {
    batches: Vec<usize>,
    epochs: usize,
}

#[derive(Debug, Clone, Default)]
struct Count(Arc<Mutex<Counter>>);

impl Callback for Count {
    fn wants_batch_loss(&self) -> bool {
        true
    }
    fn on_batch_end(&mut self, epoch: usize, _: usize, _: f32) -> wgfit::Result<Control> {
        let mut c = self.0.lock().unwrap();
        if c.batches.len() <= epoch {
            c.batches.resize(epoch + 1, 0);
        }
        c.batches[epoch] += 1;
        Ok(Control::Continue)
    }
    fn on_epoch_end(
        &mut self,
        _: &mut Model,
        _: usize,
        _: &[(String, f32)],
    ) -> wgfit::Result<Control> {
        self.0.lock().unwrap().epochs += 1;
        Ok(Control::Continue)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Arrays,
    Dataset,
    Generator,
}

/// 10 sequences of 2..=6 steps, the same data as arrays, a dataset (batch 4) or a generator
/// (batches of 4).
struct Data {
    x: Array3<f32>,
    y: Array1<f32>,
    ds: SequenceDataset,
}

fn data() -> Data {
    let mut rng = StdRng::seed_from_u64(11);
    let x = sequences(&mut rng, 10, 6, 3);
    let y = labels(&mut rng, 10, 2);
    let xs: Vec<_> = (0..10)
        .map(|i| {
            let len = (0..6)
                .rev()
                .find(|&s| x[[i, s, 0]] != 0.0)
                .map_or(1, |s| s + 1);
            x.slice(ndarray::s![i, ..len, ..]).to_owned().into_dyn()
        })
        .collect();
    let ds = SequenceDataset::new(xs, y.clone().into_dyn())
        .unwrap()
        .batch_size(4)
        .shuffle(false);
    Data { x, y, ds }
}

/// Fits `opts` on `source`, returning the history and what the counting callback saw.
fn fit_with(source: Source, opts: FitOptions) -> wgfit::Result<(History, Counter)> {
    let d = data();
    let count = Count::default();
    let mut model = masked_lstm();
    model.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let opts = opts.verbose(0).callback(count.clone());
    let history = match source {
        Source::Arrays => model.fit(&d.x, &d.y, opts)?,
        Source::Dataset => model.fit_dataset(&d.ds, opts)?,
        Source::Generator => {
            let (x, y) = (d.x.clone(), d.y.clone());
            model.fit_generator(
                move |_| {
                    let (x, y) = (x.clone(), y.clone());
                    (0..3).map(move |b| {
                        let r = 4 * b..(4 * b + 4).min(10);
                        (
                            x.slice(ndarray::s![r.clone(), .., ..]).to_owned(),
                            y.slice(ndarray::s![r]).to_owned(),
                        )
                    })
                },
                opts,
            )?
        }
    };
    let seen = std::mem::take(&mut *count.0.lock().unwrap());
    Ok((history, seen))
}

fn config_error_naming(r: wgfit::Result<(History, Counter)>, name: &str) {
    match r {
        Err(Error::Config(m)) => assert!(m.contains(name), "{m}"),
        r => panic!(
            "{name}: expected a Config error, got {:?}",
            r.map(|(h, _)| h)
        ),
    }
}

#[test]
fn every_fit_option_is_honoured_or_refused_by_every_source() {
    let d = data();
    let val_x = d.x.clone().into_dyn();
    let val_y = d.y.clone().into_dyn();
    for source in [Source::Arrays, Source::Dataset, Source::Generator] {
        let arrays = source == Source::Arrays;
        // The same batches of 4, 4, 2 from every source.
        let base = || {
            if arrays {
                FitOptions::new().batch_size(4).shuffle(false)
            } else {
                FitOptions::new()
            }
        };
        // epochs and callbacks: every source.
        let (h, c) = fit_with(source, base().epochs(3)).unwrap();
        assert_eq!((h.loss().len(), c.epochs), (3, 3), "{source:?}");
        assert_eq!(c.batches, vec![3, 3, 3], "{source:?}: 3 batches of 4, 4, 2");
        // initial_epoch: epochs initial_epoch..epochs.
        let (h, _) = fit_with(source, base().epochs(3).initial_epoch(2)).unwrap();
        assert_eq!(h.loss().len(), 1, "{source:?}");
        // steps_per_epoch caps every source's epochs.
        let (_, c) = fit_with(source, base().epochs(2).steps_per_epoch(2)).unwrap();
        assert_eq!(c.batches, vec![2, 2], "{source:?}");
        // validation data and a validation dataset: every source.
        let (h, _) =
            fit_with(source, base().validation_data(val_x.clone(), val_y.clone())).unwrap();
        assert!(
            h.get("val_loss").is_some() && h.get("val_accuracy").is_some(),
            "{source:?}"
        );
        let (h, _) = fit_with(source, base().validation_dataset(d.ds.clone())).unwrap();
        assert!(h.get("val_loss").is_some(), "{source:?}");
        config_error_naming(
            fit_with(
                source,
                base()
                    .validation_data(val_x.clone(), val_y.clone())
                    .validation_dataset(d.ds.clone()),
            ),
            "validation_dataset",
        );
        // verbose: every source takes every level (output only).
        for level in [0, 1, 2] {
            assert!(fit_with(source, base().verbose(level)).is_ok());
        }
        // batch_size, shuffle, seed, validation_split: arrays only.
        if arrays {
            let (_, c) = fit_with(source, FitOptions::new().batch_size(3)).unwrap();
            assert_eq!(c.batches, vec![4], "batch_size 3 of 10 samples");
            let w = d.y.mapv(|v| v + 0.5).into_dyn();
            let (h, _) = fit_with(source, base().sample_weight(w)).unwrap();
            assert_eq!(h.loss().len(), 1, "sample_weight");
            let (h, _) = fit_with(source, FitOptions::new().validation_split(0.3)).unwrap();
            assert!(h.get("val_loss").is_some());
            let (_, c) = fit_with(
                source,
                FitOptions::new().validation_split(0.3).batch_size(4),
            )
            .unwrap();
            assert_eq!(c.batches, vec![2], "7 training samples in batches of 4");
            let run = |o: FitOptions| fit_with(source, o.epochs(2)).unwrap().0.loss().to_vec();
            assert_eq!(
                run(FitOptions::new().seed(4)),
                run(FitOptions::new().seed(4))
            );
            assert_ne!(
                run(FitOptions::new().seed(4)),
                run(FitOptions::new().seed(5))
            );
            assert_ne!(
                run(FitOptions::new().shuffle(false)),
                run(FitOptions::new().seed(5))
            );
            assert_eq!(
                run(FitOptions::new().shuffle(false)),
                run(FitOptions::new().shuffle(false).seed(9))
            );
        } else {
            config_error_naming(
                fit_with(source, FitOptions::new().batch_size(3)),
                "batch_size",
            );
            config_error_naming(
                fit_with(source, FitOptions::new().shuffle(false)),
                "shuffle",
            );
            config_error_naming(fit_with(source, FitOptions::new().seed(1)), "seed");
            config_error_naming(
                fit_with(source, FitOptions::new().validation_split(0.2)),
                "validation_split",
            );
            config_error_naming(
                fit_with(
                    source,
                    FitOptions::new().sample_weight(d.y.clone().into_dyn()),
                ),
                "sample_weight",
            );
        }
        config_error_naming(
            fit_with(source, FitOptions::new().steps_per_epoch(0)),
            "steps_per_epoch",
        );
    }
}

#[test]
fn the_trainer_runs_validation_and_callbacks_as_fit_does() {
    let d = data();
    let mut model = masked_lstm();
    model
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::BinaryCrossentropy,
            &[],
        )
        .unwrap();
    let count = Count::default();
    let opts = FitOptions::new()
        .epochs(4)
        .batch_size(4)
        .validation_split(0.2)
        .callback(count.clone())
        .callback(EarlyStopping::new("val_loss").patience(1).min_delta(1e9))
        .verbose(0);
    let mut trainer = model.trainer(&d.x, &d.y, opts).unwrap();
    while !trainer.step(1).unwrap().done {}
    let h = trainer.history();
    assert_eq!(
        h.get("val_loss").map(<[f32]>::len),
        Some(2),
        "stopped after 2 epochs"
    );
    assert!(
        h.stopped
            .as_deref()
            .is_some_and(|s| s.contains("EarlyStopping"))
    );
    assert_eq!(count.0.lock().unwrap().batches, vec![2, 2]);
}

#[test]
fn bad_data_anywhere_is_reported_before_any_weight_changes() {
    let device = Device::cpu();
    let d = data();
    let fresh = || {
        let mut m = masked_lstm();
        m.compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        m
    };
    let mut model = fresh();
    let before = model.get_weights().unwrap();

    // A label out of range in the last batch of a sparse loss.
    let mut y = d.y.clone();
    y[9] = f32::NAN;
    match model.fit(
        &d.x,
        &y,
        FitOptions::new().batch_size(4).shuffle(false).verbose(0),
    ) {
        Err(Error::NonFinite {
            what: "y",
            batch: None,
            sample: 9,
        }) => {}
        r => panic!("{r:?}"),
    }
    // NaN in the validation data: named as the validation data's.
    let mut vx = d.x.clone();
    vx[[2, 0, 1]] = f32::NAN;
    let opts = FitOptions::new()
        .validation_data(vx.into_dyn(), d.y.clone().into_dyn())
        .verbose(0);
    match model.fit(&d.x, &d.y, opts) {
        Err(e @ Error::Validation(_)) => {
            assert!(
                matches!(
                    *e_inner(&e),
                    Error::NonFinite {
                        what: "x",
                        sample: 2,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(e.to_string().starts_with("validation data: "), "{e}");
        }
        r => panic!("{r:?}"),
    }
    // A dataset whose last batch has a class id the model does not have.
    let mut classes = Sequential::new()
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(Lstm::new(2))
        .add(Dense::new(2).activation(Activation::Softmax));
    classes
        .compile(
            &device,
            Optimizer::adam(),
            Loss::SparseCategoricalCrossentropy,
            &[],
        )
        .unwrap();
    let classes_before = classes.get_weights().unwrap();
    let xs: Vec<ArrayD<f32>> = (0..10)
        .map(|_| Array2::<f32>::ones((3, 3)).into_dyn())
        .collect();
    let mut y = d.y.clone();
    y[9] = 5.0;
    let ds = SequenceDataset::new(xs, y.into_dyn())
        .unwrap()
        .batch_size(4)
        .shuffle(false);
    match classes.fit_dataset(&ds, FitOptions::new().verbose(0)) {
        Err(Error::Label {
            batch: Some(2),
            sample: 9,
            classes: 2,
            ..
        }) => {}
        r => panic!("{r:?}"),
    }
    assert_eq!(classes.get_weights().unwrap(), classes_before);
    // A monitor the run never logs.
    let opts = FitOptions::new()
        .callback(EarlyStopping::new("val_accuracy"))
        .verbose(0);
    match model.fit(&d.x, &d.y, opts) {
        Err(Error::Config(m)) => assert!(m.contains("val_accuracy"), "{m}"),
        r => panic!("{r:?}"),
    }
    assert_eq!(model.get_weights().unwrap(), before, "no weight changed");

    // A split that leaves no training sample, and x and y of different lengths with a split.
    let one = Array3::<f32>::ones((1, 2, 3));
    match model.fit(
        &one,
        &Array1::<f32>::zeros(1),
        FitOptions::new().validation_split(0.5),
    ) {
        Err(Error::Config(m)) => assert!(m.contains("leaves no training sample"), "{m}"),
        r => panic!("{r:?}"),
    }
    match model.fit(
        &d.x,
        &Array1::<f32>::zeros(7),
        FitOptions::new().validation_split(0.2),
    ) {
        Err(Error::Length { x: 8, y: 7, .. }) => {}
        r => panic!("{r:?}"),
    }
}

fn e_inner(e: &Error) -> &Error {
    match e {
        Error::Validation(inner) => inner,
        other => other,
    }
}

#[test]
fn a_graph_that_cannot_work_is_refused_with_a_reason() {
    // An Embedding fed by a layer, not by an Input.
    let x = Input::new([Some(3)]);
    let e = Embedding::new(5, 2).call(&Dense::new(3).call(&x));
    match Model::new(&x, &e) {
        Err(Error::Config(m)) => assert!(m.contains("token ids"), "{m}"),
        r => panic!("{:?}", r.err()),
    }
    // One input feeding an Embedding and a Dense.
    let t = Input::new([Some(4)]);
    let a = Lstm::new(2).call(&Embedding::new(5, 2).call(&t));
    let b = Dense::new(2).call(&t);
    match Model::new(&t, &Add::new().call_many(&[&a, &b])) {
        Err(Error::Config(m)) => assert!(m.contains("own Input"), "{m}"),
        r => panic!("{:?}", r.err()),
    }
    // Two layers with one name.
    let x = Input::new([Some(3)]);
    let y = Dense::new(2)
        .name("twice")
        .call(&Dense::new(2).name("twice").call(&x));
    assert!(matches!(Model::new(&x, &y), Err(Error::Config(m)) if m.contains("twice")));
    // Sizes Keras refuses.
    for layer in [
        Box::new(Dense::new(0)) as Box<dyn wgfit::Layer>,
        Box::new(Lstm::new(0)),
        Box::new(Embedding::new(0, 2)),
        Box::new(Embedding::new(4, 0)),
    ] {
        let kind = layer.kind();
        let input: Vec<Option<usize>> = if kind == "lstm" {
            vec![None, Some(2)]
        } else if kind == "embedding" {
            vec![None]
        } else {
            vec![Some(2)]
        };
        let mut m = Sequential::new().input_shape(input).add(layer);
        match m.compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        ) {
            Err(Error::Config(msg)) => assert!(msg.contains("positive"), "{kind}: {msg}"),
            r => panic!("{kind}: {r:?}"),
        }
    }
    // A model with two outputs answers predict_many, not predict.
    let x = Input::new([Some(2)]);
    let h = Dense::new(2).call(&x);
    let mut m = Model::new(&x, &[&Dense::new(1).call(&h), &Dense::new(3).call(&h)]).unwrap();
    m.compile(
        &Device::cpu(),
        Optimizer::sgd(),
        Loss::MeanSquaredError,
        &[],
    )
    .unwrap();
    let xs = Array2::<f32>::ones((4, 2));
    assert!(matches!(m.predict(&xs), Err(Error::Config(msg)) if msg.contains("predict_many")));
    let outs = m.predict_many(&xs).unwrap();
    assert_eq!(
        (outs[0].shape(), outs[1].shape()),
        (&[4, 1][..], &[4, 3][..])
    );
}

#[test]
fn loading_weights_into_a_model_not_yet_built_says_what_is_missing() {
    let path =
        std::env::temp_dir().join(format!("wgfit-unbuilt-{}.safetensors", std::process::id()));
    let mut built = Sequential::new().add(Dense::new(2).input_shape([3]));
    built
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    built.save_weights(&path).unwrap();
    let mut unbuilt = Sequential::new().add(Dense::new(2));
    unbuilt
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    match unbuilt.load_weights(&path) {
        Err(Error::Config(m)) => assert!(m.contains("input shape"), "{m}"),
        r => panic!("{r:?}"),
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_layer_added_after_compile_keeps_the_activation_before_it() {
    // compile hands the output Dense's softmax to the model; adding a layer after it must
    // still apply that softmax.
    let model = Sequential::new().add(
        Dense::new(3)
            .activation(Activation::Softmax)
            .input_shape([2]),
    );
    let mut model = {
        let mut m = model;
        m.compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
        m.add(Dense::new(1).use_bias(false))
    };
    model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let weights = model.get_weights().unwrap();
    let mut ones = weights.iter().map(|(_, w)| w.clone()).collect::<Vec<_>>();
    ones[2].fill(1.0);
    model.set_weights(&ones).unwrap();
    let y = model
        .predict(&Array2::<f32>::from_elem((4, 2), 0.7))
        .unwrap();
    for v in y.iter() {
        assert!(
            (v - 1.0).abs() < 1e-6,
            "the softmax's rows sum to 1, got {v}"
        );
    }
}
