//! Sample weights (Keras's `sample_weight`): a batch's loss is `Σ w·loss / batch size`, the
//! gradient weighted the same way, metrics not weighted (as Keras's `metrics=`); arrays in
//! memory, the held-out part of a split, and a generator's `(x, y, w)` batches.

mod common;

use ndarray::{Array1, Array2, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn model(device: &Device) -> Sequential {
    let mut m = Sequential::new()
        .seed(2)
        .add(Dense::new(4).activation(Activation::Tanh).input_shape([3]))
        .add(Dense::new(2).activation(Activation::Softmax));
    m.compile(
        device,
        Optimizer::sgd().learning_rate(0.1),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

fn data() -> (Array2<f32>, Array1<f32>) {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Array2::from_shape_fn((9, 3), |_| rng.random_range(-1.0f32..1.0));
    let y = Array1::from_shape_fn(9, |_| rng.random_range(0..2) as f32);
    (x, y)
}

#[test]
fn weights_scale_losses_metrics_and_gradients_as_keras() {
    for device in std::iter::once(Device::cpu()).chain(common::gpu()) {
        let (x, y) = data();
        let mut m = model(&device);
        let plain = m.evaluate(&x, &y).unwrap();
        let ones = m
            .evaluate_weighted(&x, &y, &Array1::<f32>::ones(9))
            .unwrap();
        assert!((plain.loss - ones.loss).abs() < 1e-6);
        // Doubling every weight doubles the loss; accuracy ignores the weights.
        let twos = m
            .evaluate_weighted(&x, &y, &Array1::from_elem(9, 2.0f32))
            .unwrap();
        assert!((twos.loss - 2.0 * plain.loss).abs() < 1e-5 * plain.loss.abs().max(1.0));
        assert!((twos.get("accuracy").unwrap() - plain.get("accuracy").unwrap()).abs() < 1e-6);
        // Zero weights take samples out of the loss, which still divides by all 9 rows; the
        // accuracy still counts every sample.
        let mut w = Array1::<f32>::zeros(9);
        w.slice_mut(s![..4]).fill(1.0);
        let part = m.evaluate_weighted(&x, &y, &w).unwrap();
        let first = m
            .evaluate(&x.slice(s![..4, ..]), &y.slice(s![..4]))
            .unwrap();
        assert!(
            (part.loss - first.loss * 4.0 / 9.0).abs() < 1e-5,
            "{part:?} {first:?}"
        );
        assert_eq!(part.get("accuracy"), plain.get("accuracy"));

        // A step with zero weights on samples 4.. equals a step on samples ..4 scaled by 4/9:
        // with SGD, the same update as learning rate 0.1 * 4/9 on those four.
        let (mut a, mut b) = (model(&device), model(&device));
        a.fit(
            &x,
            &y,
            FitOptions::new()
                .batch_size(9)
                .shuffle(false)
                .sample_weight(w.clone().into_dyn())
                .verbose(0),
        )
        .unwrap();
        b.compile(
            &device,
            Optimizer::sgd().learning_rate(0.1 * 4.0 / 9.0),
            Loss::SparseCategoricalCrossentropy,
            &[],
        )
        .unwrap();
        b.set_weights(
            &model(&device)
                .get_weights()
                .unwrap()
                .into_iter()
                .map(|(_, w)| w)
                .collect::<Vec<_>>(),
        )
        .unwrap();
        b.fit(
            &x.slice(s![..4, ..]),
            &y.slice(s![..4]),
            FitOptions::new().batch_size(4).shuffle(false).verbose(0),
        )
        .unwrap();
        for ((name, wa), (_, wb)) in a
            .get_weights()
            .unwrap()
            .iter()
            .zip(b.get_weights().unwrap())
        {
            let err = (wa - &wb).iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert!(err < 1e-6, "{name} on {}: {err}", device.info());
        }
    }
}

#[test]
fn bad_weights_are_named_before_any_step() {
    let (x, y) = data();
    let mut m = model(&Device::cpu());
    let before = m.get_weights().unwrap();
    let mut w = Array1::<f32>::ones(9);
    w[7] = f32::NAN;
    match m.fit(
        &x,
        &y,
        FitOptions::new().sample_weight(w.into_dyn()).verbose(0),
    ) {
        Err(Error::NonFinite {
            what: "sample_weight",
            sample: 7,
            ..
        }) => {}
        r => panic!("{r:?}"),
    }
    match m.fit(
        &x,
        &y,
        FitOptions::new()
            .sample_weight(Array1::<f32>::ones(8).into_dyn())
            .verbose(0),
    ) {
        Err(Error::Length { x: 9, y: 8, .. }) => {}
        r => panic!("{r:?}"),
    }
    assert_eq!(m.get_weights().unwrap(), before);
    // A dataset makes its own batches: weights with it are refused, naming the option.
    let xs: Vec<_> = (0..9)
        .map(|_| ndarray::Array2::<f32>::ones((2, 3)).into_dyn())
        .collect();
    let ds = SequenceDataset::new(xs, y.clone().into_dyn()).unwrap();
    let mut seq = Sequential::new()
        .add(Lstm::new(2).input_shape([None, Some(3)]))
        .add(Dense::new(2).activation(Activation::Softmax));
    seq.compile(
        &Device::cpu(),
        Optimizer::sgd(),
        Loss::SparseCategoricalCrossentropy,
        &[],
    )
    .unwrap();
    match seq.fit_dataset(
        &ds,
        FitOptions::new().sample_weight(Array1::<f32>::ones(9).into_dyn()),
    ) {
        Err(Error::Config(msg)) => assert!(msg.contains("sample_weight"), "{msg}"),
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_generator_gives_weights_with_its_batches() {
    let (x, y) = data();
    let mut a = model(&Device::cpu());
    let mut b = model(&Device::cpu());
    let w = Array1::from_shape_fn(9, |i| 0.5 + i as f32 * 0.1);
    let opts = || FitOptions::new().epochs(2).verbose(0);
    let ha = a
        .fit(
            &x,
            &y,
            opts()
                .batch_size(9)
                .shuffle(false)
                .sample_weight(w.clone().into_dyn()),
        )
        .unwrap();
    let hb = b
        .fit_generator(
            |_| std::iter::once((x.clone(), y.clone(), w.clone())),
            opts(),
        )
        .unwrap();
    assert_eq!(ha.loss(), hb.loss());
    assert_eq!(a.get_weights().unwrap(), b.get_weights().unwrap());
}
