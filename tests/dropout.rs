//! The Dropout and SpatialDropout1D layers on the CPU reference and the GPU: seeded masks
//! equal bit for bit across devices and runs and new at every training call, whole channels
//! dropped by SpatialDropout1D, the identity at inference and at rate 0, masks passed on,
//! rates refused with the layer named, gradients through a fixed mask against finite
//! differences, and small models that train with `fit` to the same numbers on both devices.

mod common;

use ndarray::{Array1, Array2, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::layers::{Dims, Layer};
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(common::gpu());
    d
}

fn built<L: Layer>(mut layer: L, device: &Device, dims: Dims, model_seed: u64) -> L {
    let mut rng = StdRng::seed_from_u64(model_seed);
    layer.build(device, &[dims], &mut rng).unwrap();
    layer
}

/// The layer's output for `x` (training or not) as host values.
fn run(layer: &dyn Layer, x: &Tensor, training: bool) -> Vec<f32> {
    let out = layer.forward(&[x], &[None], training).unwrap();
    out.outputs[0].to_vec_blocking().unwrap()
}

/// A layer made afresh, unbuilt.
type Make = fn() -> Box<dyn Layer>;

fn random(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(0.5f32..1.5)).collect()
}

#[test]
fn equal_seeds_draw_equal_masks_on_every_device_and_each_call_a_new_one() {
    let mut rng = common::rng("dropout determinism");
    let (dims, shape) = (vec![Some(7), Some(33)], [5usize, 7, 33]);
    let x = random(&mut rng, shape.iter().product());
    let make: [(&str, Make); 4] = [
        ("Dropout seed 9", || Box::new(Dropout::new(0.4).seed(9))),
        ("Dropout from the model's seed", || {
            Box::new(Dropout::new(0.4))
        }),
        ("SpatialDropout1D seed 9", || {
            Box::new(SpatialDropout1D::new(0.4).seed(9))
        }),
        ("SpatialDropout1D from the model's seed", || {
            Box::new(SpatialDropout1D::new(0.4))
        }),
    ];
    for (what, make) in make {
        let mut per_device = Vec::new();
        for device in devices() {
            let xt = Tensor::from_vec(&device, shape, x.clone()).unwrap();
            let mut layer = make();
            layer
                .build(
                    &device,
                    std::slice::from_ref(&dims),
                    &mut StdRng::seed_from_u64(3),
                )
                .unwrap();
            let calls: Vec<Vec<f32>> = (0..3).map(|_| run(layer.as_ref(), &xt, true)).collect();
            assert_ne!(calls[0], calls[1], "{what}: a new mask at each call");
            assert_ne!(calls[1], calls[2], "{what}: a new mask at each call");
            // Building again (compiling again) starts the stream over.
            layer
                .build(
                    &device,
                    std::slice::from_ref(&dims),
                    &mut StdRng::seed_from_u64(3),
                )
                .unwrap();
            assert_eq!(run(layer.as_ref(), &xt, true), calls[0], "{what}: rebuilt");
            // Another model seed: another stream, unless the layer has its own seed.
            let mut other = make();
            other
                .build(
                    &device,
                    std::slice::from_ref(&dims),
                    &mut StdRng::seed_from_u64(4),
                )
                .unwrap();
            let first = run(other.as_ref(), &xt, true);
            assert_eq!(
                first == calls[0],
                what.contains("seed 9"),
                "{what}: model seed 4"
            );
            per_device.push((device.info(), calls));
        }
        for (info, calls) in &per_device[1..] {
            assert_eq!(
                calls, &per_device[0].1,
                "{what}: {info} against the CPU, bit for bit"
            );
        }
    }
}

#[test]
fn spatial_dropout_drops_whole_feature_channels() {
    let mut rng = common::rng("spatial channels");
    let (b, t, f) = (4, 9, 64);
    let x = random(&mut rng, b * t * f);
    let rate = 0.5;
    let scale = (1.0 / (1.0 - f64::from(rate))) as f32;
    for device in devices() {
        let layer = built(SpatialDropout1D::new(rate), &device, vec![None, Some(f)], 1);
        let xt = Tensor::from_vec(&device, [b, t, f], x.clone()).unwrap();
        let y = run(&layer, &xt, true);
        let mut dropped = 0;
        for s in 0..b {
            for c in 0..f {
                let at = |step: usize| (s * t + step) * f + c;
                let kept = y[at(0)] != 0.0;
                dropped += usize::from(!kept);
                for step in 0..t {
                    let want = if kept { x[at(step)] * scale } else { 0.0 };
                    assert_eq!(y[at(step)], want, "sample {s} channel {c} step {step}");
                }
            }
        }
        // 256 channels at rate 0.5: 128 ± 40 (5 sd).
        assert!(
            (88..=168).contains(&dropped),
            "{dropped} of 256 channels dropped"
        );
    }
}

#[test]
fn inference_is_the_identity_and_draws_no_mask() {
    let mut rng = common::rng("dropout inference");
    let x = random(&mut rng, 6 * 5 * 8);
    for device in devices() {
        let xt = Tensor::from_vec(&device, [6, 5, 8], x.clone()).unwrap();
        let layers: [Box<dyn Layer>; 2] = [
            Box::new(built(Dropout::new(0.7), &device, vec![Some(5), Some(8)], 0)),
            Box::new(built(
                SpatialDropout1D::new(0.7),
                &device,
                vec![Some(5), Some(8)],
                0,
            )),
        ];
        let twins: [Box<dyn Layer>; 2] = [
            Box::new(built(Dropout::new(0.7), &device, vec![Some(5), Some(8)], 0)),
            Box::new(built(
                SpatialDropout1D::new(0.7),
                &device,
                vec![Some(5), Some(8)],
                0,
            )),
        ];
        for (layer, twin) in layers.iter().zip(&twins) {
            assert_eq!(run(layer.as_ref(), &xt, false), x, "{}", layer.kind());
            // An inference call between training calls leaves the training masks as they were.
            assert_eq!(
                run(layer.as_ref(), &xt, true),
                run(twin.as_ref(), &xt, true)
            );
            run(layer.as_ref(), &xt, false);
            assert_eq!(
                run(layer.as_ref(), &xt, true),
                run(twin.as_ref(), &xt, true)
            );
        }
    }
}

/// Dense tanh -> `middle` -> Dense, with the weights of `seed` 5.
fn mlp(middle: Option<Dropout>) -> Sequential {
    let mut model = Sequential::new()
        .seed(5)
        .add(Dense::new(6).activation(Activation::Tanh).input_shape([4]));
    if let Some(d) = middle {
        model = model.add(d);
    }
    model.add(Dense::new(1).activation(Activation::Sigmoid))
}

fn data(rng: &mut StdRng, n: usize) -> (Array2<f32>, Array1<f32>) {
    let x = Array2::from_shape_fn((n, 4), |_| rng.random_range(-1.0f32..1.0));
    let y = Array1::from_iter(x.rows().into_iter().map(|r| f32::from(r.sum() > 0.0)));
    (x, y)
}

#[test]
fn predict_and_evaluate_ignore_dropout_and_rate_zero_trains_as_without() {
    let mut rng = common::rng("dropout models");
    let (x, y) = data(&mut rng, 37);
    for device in devices() {
        let compiled = |mut m: Sequential| {
            m.compile(&device, Optimizer::sgd(), Loss::BinaryCrossentropy, &[])
                .unwrap();
            m
        };
        let mut plain = compiled(mlp(None));
        let weights: Vec<ArrayD<f32>> = plain
            .get_weights()
            .unwrap()
            .into_iter()
            .map(|(_, w)| w)
            .collect();
        for rate in [0.0, 0.5] {
            let mut with = compiled(mlp(Some(Dropout::new(rate))));
            with.set_weights(&weights).unwrap();
            let on = format!("rate {rate} on {}", device.info());
            assert_eq!(
                with.predict(&x).unwrap(),
                plain.predict(&x).unwrap(),
                "{on}"
            );
            let (a, b) = (
                with.evaluate(&x, &y).unwrap(),
                plain.evaluate(&x, &y).unwrap(),
            );
            assert_eq!(a.loss, b.loss, "{on}");
            let (ga, gb) = (
                with.gradients(&x, &y).unwrap(),
                plain.gradients(&x, &y).unwrap(),
            );
            // Dropout counts as a layer in the names: compare the values in order.
            let differ = ga.iter().zip(&gb).any(|((_, a), (_, b))| a != b);
            assert_eq!(differ, rate > 0.0, "{on}: training gradients");
        }
    }
}

#[test]
fn masks_pass_through_unchanged() {
    for device in devices() {
        let x = Tensor::from_vec(&device, [2, 3, 2], vec![1.0; 12]).unwrap();
        let mask = Tensor::from_vec(&device, [2, 3], vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0]).unwrap();
        let layers: [Box<dyn Layer>; 2] = [
            Box::new(built(Dropout::new(0.5), &device, vec![None, Some(2)], 0)),
            Box::new(built(
                SpatialDropout1D::new(0.5),
                &device,
                vec![None, Some(2)],
                0,
            )),
        ];
        for layer in &layers {
            for training in [false, true] {
                let out = layer.forward(&[&x], &[Some(&mask)], training).unwrap();
                let got = out.masks[0]
                    .as_ref()
                    .expect("a mask")
                    .to_vec_blocking()
                    .unwrap();
                assert_eq!(got, mask.to_vec_blocking().unwrap(), "{}", layer.kind());
            }
        }
    }
}

#[test]
fn rates_outside_zero_to_one_are_refused_at_build_naming_the_layer() {
    for rate in [-0.1f32, 1.0, 1.5, f32::NAN] {
        let mut model = mlp(Some(Dropout::new(rate)));
        let err = model
            .compile(
                &Device::cpu(),
                Optimizer::sgd(),
                Loss::MeanSquaredError,
                &[],
            )
            .unwrap_err();
        let Error::Config(m) = &err else {
            panic!("{err}")
        };
        assert!(
            m.contains("dropout") && m.contains(&format!("got {rate}")),
            "{m}"
        );

        let mut model = Sequential::new()
            .add(SpatialDropout1D::new(rate).input_shape([None, Some(3)]))
            .add(Lstm::new(2));
        let err = model
            .compile(
                &Device::cpu(),
                Optimizer::sgd(),
                Loss::MeanSquaredError,
                &[],
            )
            .unwrap_err();
        let Error::Config(m) = &err else {
            panic!("{err}")
        };
        assert!(
            m.contains("SpatialDropout1D") && m.contains("[0, 1)"),
            "{m}"
        );
    }
    let mut flat = Sequential::new()
        .add(SpatialDropout1D::new(0.1).input_shape([Some(3)]))
        .add(Dense::new(1));
    let err = flat
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("[T, F]")),
        "{err}"
    );
}
