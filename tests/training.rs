//! Dense models end to end: the GPU trains like the CPU reference, gradients match finite
//! differences, optimizer steps match hand-computed values, weights round-trip through
//! safetensors, and bad input is a typed error.

mod common;

use common::{check_finite_differences, gpu};
use ndarray::{Array1, Array2, Array3, ArrayD, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn model(
    device: &Device,
    hidden: Activation,
    out_units: usize,
    out: Activation,
    loss: Loss,
    opt: Optimizer,
) -> Sequential {
    let mut m = Sequential::new()
        .seed(7)
        .add(Flatten::new().input_shape([3, 4]))
        .add(Dense::new(8).activation(hidden))
        .add(Dense::new(out_units).activation(out));
    let metrics: &[Metric] = if loss == Loss::MeanSquaredError {
        &[]
    } else {
        &[Metric::Accuracy]
    };
    m.compile(device, opt, loss, metrics).unwrap();
    m
}

fn data(n: usize, loss: Loss, out_units: usize, seed: u64) -> (Array3<f32>, ArrayD<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array3::from_shape_fn((n, 3, 4), |_| rng.random_range(-1.0..1.0));
    let y = match loss {
        Loss::CategoricalCrossentropy => to_categorical(
            &Array1::from_shape_fn(n, |_| rng.random_range(0..out_units) as f32),
            out_units,
        )
        .unwrap()
        .into_dyn(),
        Loss::SparseCategoricalCrossentropy => {
            Array1::from_shape_fn(n, |_| rng.random_range(0..out_units) as f32).into_dyn()
        }
        Loss::BinaryCrossentropy => Array2::from_shape_fn((n, out_units), |_| {
            f32::from(u8::from(rng.random_bool(0.5)))
        })
        .into_dyn(),
        Loss::MeanSquaredError => {
            Array2::from_shape_fn((n, out_units), |_| rng.random_range(-1.0..1.0)).into_dyn()
        }
    };
    (x, y)
}

fn combos() -> Vec<(Activation, usize, Activation, Loss, Optimizer)> {
    vec![
        (
            Activation::Relu,
            5,
            Activation::Softmax,
            Loss::CategoricalCrossentropy,
            Optimizer::adam(),
        ),
        (
            Activation::Relu,
            4,
            Activation::Softmax,
            Loss::SparseCategoricalCrossentropy,
            Optimizer::sgd().learning_rate(0.1),
        ),
        (
            Activation::Tanh,
            2,
            Activation::Sigmoid,
            Loss::BinaryCrossentropy,
            Optimizer::sgd().momentum(0.9).nesterov(true),
        ),
        (
            Activation::Sigmoid,
            3,
            Activation::Linear,
            Loss::MeanSquaredError,
            Optimizer::rmsprop().momentum(0.5),
        ),
        (
            Activation::Linear,
            3,
            Activation::Tanh,
            Loss::MeanSquaredError,
            Optimizer::adam().learning_rate(0.01),
        ),
    ]
}

#[test]
fn gpu_and_cpu_follow_the_same_loss_trajectory_to_the_same_weights() {
    let Some(gpu) = gpu() else { return };
    for (hidden, units, out, loss, opt) in combos() {
        let (x, y) = data(20, loss, units, 1);
        let run = |device: &Device| {
            let mut m = model(device, hidden, units, out, loss, opt);
            let losses: Vec<f32> = (0..20)
                .map(|s| {
                    let range = ((s % 4) * 5)..((s % 4) * 5 + 5);
                    let xb = x.slice_axis(Axis(0), range.clone().into());
                    let yb = y.slice_axis(Axis(0), range.into());
                    m.train_on_batch(&xb, &yb).unwrap()
                })
                .collect();
            (losses, m.get_weights().unwrap())
        };
        let (cpu_losses, cpu_w) = run(&Device::cpu());
        let (gpu_losses, gpu_w) = run(&gpu);
        let case = format!("{hidden:?} -> {out:?} with {loss:?}, {opt:?}");
        for (s, (g, c)) in gpu_losses.iter().zip(&cpu_losses).enumerate() {
            assert!(
                (g - c).abs() <= 1e-4 * c.abs(),
                "{case}: step {s} loss {g} on the GPU, {c} on the CPU"
            );
        }
        assert!(
            cpu_losses[19] < cpu_losses[3],
            "{case}: training did not lower the loss: {cpu_losses:?}"
        );
        for ((name, g), (_, c)) in gpu_w.iter().zip(&cpu_w) {
            let diff = (g - c).iter().fold(0.0f32, |m, d| m.max(d.abs()));
            assert!(diff <= 1e-4, "{case}: {name} differs by {diff}");
        }
    }
}

#[test]
fn dense_gradients_match_central_finite_differences() {
    let cases = [
        (
            Activation::Linear,
            4,
            Activation::Softmax,
            Loss::CategoricalCrossentropy,
        ),
        (
            Activation::Relu,
            4,
            Activation::Softmax,
            Loss::SparseCategoricalCrossentropy,
        ),
        (
            Activation::Sigmoid,
            2,
            Activation::Sigmoid,
            Loss::BinaryCrossentropy,
        ),
        (
            Activation::Tanh,
            3,
            Activation::Linear,
            Loss::MeanSquaredError,
        ),
        (
            Activation::Relu,
            3,
            Activation::Tanh,
            Loss::MeanSquaredError,
        ),
        (
            Activation::Tanh,
            2,
            Activation::Relu,
            Loss::MeanSquaredError,
        ),
    ];
    for (hidden, units, out, loss) in cases {
        let device = Device::cpu();
        let mut m = model(&device, hidden, units, out, loss, Optimizer::sgd());
        let (x, y) = data(6, loss, units, 2);
        check_finite_differences(
            &mut m,
            &x.into_dyn(),
            &y,
            &format!("{hidden:?} -> {out:?} with {loss:?}"),
        );
    }
}

fn single_step(device: &Device, opt: &str, steps: usize) -> f32 {
    let w = Tensor::from_vec(device, [1], vec![1.0]).unwrap();
    let (a, b) = (
        Tensor::zeros(device, [1]).unwrap(),
        Tensor::zeros(device, [1]).unwrap(),
    );
    let g = Tensor::from_vec(device, [1], vec![0.5]).unwrap();
    for t in 1..=steps {
        match opt {
            "adam" => ops::adam::adam_update(
                &w,
                &a,
                &b,
                &g,
                ops::adam::AdamStep::new(0.001, 0.9, 0.999, 1e-7, t as u64),
            )
            .unwrap(),
            "sgd" => ops::sgd::sgd_update(&w, &a, &g, 0.1, 0.9, false).unwrap(),
            "nesterov" => ops::sgd::sgd_update(&w, &a, &g, 0.1, 0.9, true).unwrap(),
            "rmsprop" => {
                let step = ops::rmsprop::RmsPropStep {
                    lr: 0.001,
                    rho: 0.9,
                    momentum: 0.0,
                    epsilon: 1e-7,
                };
                ops::rmsprop::rmsprop_update(&w, &a, &b, &g, step).unwrap()
            }
            _ => unreachable!(),
        }
    }
    w.to_vec_blocking().unwrap()[0]
}

#[test]
fn optimizer_steps_match_hand_computed_values() {
    // w = 1, g = 0.5, from zero state, worked out by hand with Keras's formulas.
    let adam_1 = {
        let (m, v) = (0.1 * 0.5, 0.001 * 0.25);
        let alpha = 0.001 * (1.0f64 - 0.999).sqrt() / (1.0 - 0.9);
        1.0 - alpha * m / (f64::sqrt(v) + 1e-7)
    };
    let expected = [
        ("adam", 1, adam_1),
        ("sgd", 1, 1.0 - 0.05),              // m = -0.05
        ("sgd", 2, 1.0 - 0.05 - 0.095),      // m = 0.9 (-0.05) - 0.05
        ("nesterov", 1, 1.0 - 0.045 - 0.05), // w += 0.9 m - lr g
        ("rmsprop", 1, 1.0 - 0.001 * 0.5 / (0.025f64 + 1e-7).sqrt()), // velocity = 0.1 * 0.25
    ];
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    for device in &devices {
        for (opt, steps, want) in expected {
            let got = single_step(device, opt, steps);
            assert!(
                (f64::from(got) - want).abs() < 1e-6,
                "{opt} x{steps} on {}: {got}, expected {want}",
                device.info()
            );
        }
    }
}

#[test]
fn saved_weights_load_into_a_fresh_model_and_predict_the_same() {
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    let dir = std::env::temp_dir().join(format!("wgfit-weights-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (d, device) in devices.iter().enumerate() {
        let (x, y) = data(8, Loss::CategoricalCrossentropy, 5, 3);
        let mut trained = model(
            device,
            Activation::Relu,
            5,
            Activation::Softmax,
            Loss::CategoricalCrossentropy,
            Optimizer::adam(),
        );
        trained
            .fit(&x, &y, FitOptions::new().epochs(3).batch_size(4).verbose(0))
            .unwrap();
        let path = dir.join(format!("m{d}.safetensors"));
        trained.save_weights(&path).unwrap();
        let mut fresh = model(
            device,
            Activation::Relu,
            5,
            Activation::Softmax,
            Loss::CategoricalCrossentropy,
            Optimizer::adam(),
        );
        assert_ne!(fresh.predict(&x).unwrap(), trained.predict(&x).unwrap());
        fresh.load_weights(&path).unwrap();
        assert_eq!(
            fresh.predict(&x).unwrap(),
            trained.predict(&x).unwrap(),
            "on {}",
            device.info()
        );

        let mut other = Sequential::new()
            .add(Flatten::new().input_shape([3, 4]))
            .add(Dense::new(6))
            .add(Dense::new(5).activation(Activation::Softmax));
        other
            .compile(
                device,
                Optimizer::adam(),
                Loss::CategoricalCrossentropy,
                &[],
            )
            .unwrap();
        match other.load_weights(&path) {
            Err(Error::File {
                tensor, problem, ..
            }) => {
                assert_eq!(tensor.as_deref(), Some("layers.1.dense.kernel"));
                assert!(problem.contains("[12, 8]"), "{problem}");
            }
            r => panic!("expected a data error naming the tensor, got {r:?}"),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_weights_file_with_missing_tensors_is_rejected_listing_them() {
    let device = Device::cpu();
    let dir = std::env::temp_dir().join(format!("wgfit-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let small = {
        let mut m = Sequential::new().add(
            Dense::new(5)
                .input_shape([12])
                .activation(Activation::Softmax),
        );
        m.compile(
            &device,
            Optimizer::adam(),
            Loss::CategoricalCrossentropy,
            &[],
        )
        .unwrap();
        m
    };
    let path = dir.join("small.safetensors");
    small.save_weights(&path).unwrap();
    let mut big = model(
        &device,
        Activation::Relu,
        5,
        Activation::Softmax,
        Loss::CategoricalCrossentropy,
        Optimizer::adam(),
    );
    match big.load_weights(&path) {
        Err(Error::File { problem: m, .. }) => {
            assert!(
                m.contains("missing") && m.contains("layers.2.dense.kernel"),
                "{m}"
            );
            assert!(
                m.contains("unexpected") && m.contains("layers.0.dense.kernel"),
                "{m}"
            );
        }
        r => panic!("expected a data error, got {r:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_epoch_loss_weights_a_smaller_last_batch_by_its_size() {
    // With a learning rate of 0 the weights stay put, so the epoch loss must equal the loss
    // over all samples (batches 4, 4 and 2), not the plain mean of the three batch losses.
    let device = Device::cpu();
    let mut m = model(
        &device,
        Activation::Tanh,
        3,
        Activation::Softmax,
        Loss::CategoricalCrossentropy,
        Optimizer::sgd().learning_rate(0.0),
    );
    let (x, y) = data(10, Loss::CategoricalCrossentropy, 3, 4);
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::new()
                .batch_size(4)
                .epochs(2)
                .shuffle(false)
                .verbose(0),
        )
        .unwrap();
    let whole = m.evaluate(&x, &y).unwrap();
    assert_eq!(h.epochs(), 2);
    assert!(
        (h.loss()[1] - whole.loss).abs() <= 1e-6,
        "{} vs {}",
        h.loss()[1],
        whole.loss
    );
    assert!((h.get("accuracy").unwrap()[1] - whole.get("accuracy").unwrap()).abs() <= 1e-6);
    let batch_means: Vec<f32> = [0..4, 4..8, 8..10]
        .into_iter()
        .map(|r| {
            m.evaluate(
                &x.slice_axis(Axis(0), r.clone().into()),
                &y.slice_axis(Axis(0), r.into()),
            )
            .unwrap()
            .loss
        })
        .collect();
    let unweighted = batch_means.iter().sum::<f32>() / 3.0;
    assert!(
        (unweighted - whole.loss).abs() > 1e-4,
        "the data should make the two means differ"
    );
}

#[test]
fn fit_reports_validation_metrics_and_zero_epochs_train_nothing() {
    let device = Device::cpu();
    let mut m = model(
        &device,
        Activation::Relu,
        4,
        Activation::Softmax,
        Loss::SparseCategoricalCrossentropy,
        Optimizer::adam(),
    );
    let (x, y) = data(20, Loss::SparseCategoricalCrossentropy, 4, 5);
    let before = m.get_weights().unwrap();
    let none = m
        .fit(&x, &y, FitOptions::new().epochs(0).verbose(0))
        .unwrap();
    assert_eq!(none.epochs(), 0);
    assert_eq!(m.get_weights().unwrap(), before);
    let h = m
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(3)
                .validation_split(0.25)
                .verbose(0),
        )
        .unwrap();
    for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        assert_eq!(h.get(key).map(<[f32]>::len), Some(3), "{key}");
    }
    // The validation split is the last 5 samples, as in Keras.
    let val = m
        .evaluate(
            &x.slice_axis(Axis(0), (15..20).into()),
            &y.slice_axis(Axis(0), (15..20).into()),
        )
        .unwrap();
    assert!((h.get("val_loss").unwrap()[2] - val.loss).abs() <= 1e-6);
}

#[test]
fn validation_split_holds_out_as_many_samples_as_keras() {
    // Keras: split_at = floor(n * (1.0 - validation_split)), so 5 samples at 0.2 train on 4
    // and validate on 1 (and 10 at 0.3 on 7 and 3), with the f32 fraction read as its decimal.
    for (n, fraction, keep) in [(5, 0.2, 4), (10, 0.3, 7)] {
        let device = Device::cpu();
        let new = || {
            model(
                &device,
                Activation::Relu,
                4,
                Activation::Softmax,
                Loss::SparseCategoricalCrossentropy,
                Optimizer::sgd().learning_rate(0.0),
            )
        };
        let (x, y) = data(n, Loss::SparseCategoricalCrossentropy, 4, 9);
        let h = new()
            .fit(
                &x,
                &y,
                FitOptions::new()
                    .validation_split(fraction)
                    .shuffle(false)
                    .verbose(0),
            )
            .unwrap();
        // A learning rate of 0 leaves the weights as they start: the logs are evaluations.
        let eval = |range: std::ops::Range<usize>| {
            new()
                .evaluate(
                    &x.slice_axis(Axis(0), range.clone().into()),
                    &y.slice_axis(Axis(0), range.into()),
                )
                .unwrap()
                .loss
        };
        let (train, val) = (eval(0..keep), eval(keep..n));
        assert!((h.loss()[0] - train).abs() <= 1e-6, "{n} at {fraction}");
        assert!(
            (h.get("val_loss").unwrap()[0] - val).abs() <= 1e-6,
            "{n} at {fraction}: val_loss {:?}, want {val}",
            h.get("val_loss")
        );
    }
}

fn expect_err<T: std::fmt::Debug>(r: wgfit::Result<T>) -> Error {
    r.expect_err("bad input must be an error")
}

#[test]
fn bad_training_input_is_a_typed_error_saying_what_and_where() {
    let device = Device::cpu();
    let new = || {
        model(
            &device,
            Activation::Relu,
            5,
            Activation::Softmax,
            Loss::CategoricalCrossentropy,
            Optimizer::adam(),
        )
    };
    let (x, y) = data(6, Loss::CategoricalCrossentropy, 5, 6);
    let opts = || FitOptions::new().verbose(0);

    match expect_err(new().fit(&x, &y.slice_axis(Axis(0), (0..5).into()), opts())) {
        Error::Length { x: 6, y: 5, .. } => {}
        e => panic!("length mismatch: {e:?}"),
    }
    let wide = Array3::<f32>::zeros((6, 3, 5));
    match expect_err(new().fit(&wide, &y, opts())) {
        Error::Shape(e) => {
            assert_eq!(e.layer.as_deref(), Some("flatten"));
            assert_eq!(e.expected, vec![None, Some(3), Some(4)]);
            assert_eq!(e.actual, vec![6, 3, 5]);
        }
        e => panic!("wrong feature shape: {e:?}"),
    }
    let nine = Array2::<f32>::zeros((6, 9));
    match expect_err(new().fit(&x, &nine, opts())) {
        Error::Shape(e) => assert!(
            e.to_string().contains("9 classes but the model outputs 5"),
            "{e}"
        ),
        e => panic!("wrong class count: {e:?}"),
    }
    match expect_err(new().fit(&x, &y, opts().batch_size(0))) {
        Error::Config(m) => assert!(m.contains("batch_size"), "{m}"),
        e => panic!("batch size 0: {e:?}"),
    }
    let empty = Array3::<f32>::zeros((0, 3, 4));
    match expect_err(new().fit(&empty, &Array2::<f32>::zeros((0, 5)), opts())) {
        Error::Empty { sample: None, .. } => {}
        e => panic!("empty x: {e:?}"),
    }
    let mut nan = x.clone();
    nan[[4, 1, 2]] = f32::NAN;
    match expect_err(new().fit(&nan, &y, opts())) {
        Error::NonFinite {
            what: "x",
            batch: None,
            sample: 4,
        } => {}
        e => panic!("NaN input: {e:?}"),
    }
    let mut sparse = model(
        &device,
        Activation::Relu,
        5,
        Activation::Softmax,
        Loss::SparseCategoricalCrossentropy,
        Optimizer::adam(),
    );
    match expect_err(sparse.fit(
        &x,
        &Array1::from(vec![0.0, 1.0, 7.0, 2.0, 3.0, 4.0]),
        opts(),
    )) {
        e @ Error::Label {
            batch: None,
            sample: 2,
            label: 7.0,
            classes: 5,
        } => {
            assert!(e.to_string().contains("sample 2 has label 7"), "{e}");
        }
        e => panic!("label out of range: {e:?}"),
    }
    let mut uncompiled = Sequential::new().add(Dense::new(2));
    match expect_err(uncompiled.fit(&x, &y, opts())) {
        Error::Config(m) => assert!(m.contains("not compiled"), "{m}"),
        e => panic!("fit before compile: {e:?}"),
    }
}

#[test]
fn categorical_crossentropy_after_a_non_softmax_output_normalises_and_clips_like_keras() {
    // Keras: q = p / sum(p), clipped to [1e-7, 1 - 1e-7], loss = -sum(y log q), batch mean.
    for device in std::iter::once(Device::cpu()).chain(gpu()) {
        let mut m = model(
            &device,
            Activation::Relu,
            4,
            Activation::Sigmoid,
            Loss::CategoricalCrossentropy,
            Optimizer::adam(),
        );
        let (x, y) = data(6, Loss::CategoricalCrossentropy, 4, 8);
        let p = m.predict(&x).unwrap();
        let mut expected = 0.0f64;
        for (prow, yrow) in p.outer_iter().zip(y.outer_iter()) {
            let total: f32 = prow.sum();
            for (&pv, &yv) in prow.iter().zip(yrow.iter()) {
                let q = (pv / total).clamp(1e-7, 1.0 - 1e-7);
                expected -= f64::from(yv) * f64::from(q).ln();
            }
        }
        expected /= 6.0;
        let got = f64::from(m.evaluate(&x, &y).unwrap().loss);
        assert!(
            (got - expected).abs() <= 1e-5 * expected,
            "{got} vs {expected} on {}",
            device.info()
        );
    }
}

#[test]
fn a_trainer_stepping_between_frames_trains_exactly_like_fit() {
    let device = Device::cpu();
    let (x, y) = data(20, Loss::CategoricalCrossentropy, 5, 9);
    let opts = || FitOptions::new().batch_size(6).epochs(3).seed(4).verbose(0);
    let mut fitted = model(
        &device,
        Activation::Relu,
        5,
        Activation::Softmax,
        Loss::CategoricalCrossentropy,
        Optimizer::adam(),
    );
    let h = fitted.fit(&x, &y, opts()).unwrap();
    let mut stepped = model(
        &device,
        Activation::Relu,
        5,
        Activation::Softmax,
        Loss::CategoricalCrossentropy,
        Optimizer::adam(),
    );
    let mut trainer = stepped.trainer(&x, &y, opts()).unwrap();
    let mut calls = 0;
    while !trainer.step(2).unwrap().done {
        calls += 1;
    }
    assert_eq!(calls, 5, "12 batches at 2 per call");
    assert_eq!(trainer.history().loss(), h.loss());
    drop(trainer);
    assert_eq!(
        stepped.get_weights().unwrap(),
        fitted.get_weights().unwrap()
    );

    let mut cancelled = stepped.trainer(&x, &y, opts()).unwrap();
    cancelled.step(5).unwrap();
    cancelled.cancel();
    assert!(cancelled.step(100).unwrap().done);
    assert_eq!(
        cancelled.history().epochs(),
        1,
        "one full epoch of four batches, then cancelled"
    );
}
