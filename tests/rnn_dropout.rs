//! `dropout` and `recurrent_dropout` on LSTM, GRU and SimpleRNN, on the CPU reference and the
//! GPU: the kept fraction and the scaling of the input masks, one mask per sample used at
//! every step, seeded masks that repeat with the seed and change with each call and device
//! alike, the identity at inference, rates refused with the layer named, `fit` on both devices
//! (gradients: `rnn_dropout_gradients.rs`).

mod common;

use common::rnn::{all_kinds, devices, params, set_params};

use ndarray::{Array1, Array3, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::layers::{Dims, Layer};
use wgfit::prelude::*;

fn built<L: Layer>(mut layer: L, device: &Device, dims: Dims, model_seed: u64) -> L {
    let mut rng = StdRng::seed_from_u64(model_seed);
    layer.build(device, &[dims], &mut rng).unwrap();
    layer
}

/// The layer's first output for `x` (with an optional `[B, T]` mask) as host values.
fn run(layer: &dyn Layer, x: &Tensor, mask: Option<&Tensor>, training: bool) -> Vec<f32> {
    let out = layer.forward(&[x], &[mask], training).unwrap();
    out.outputs[0].to_vec_blocking().unwrap()
}

#[test]
fn input_dropout_keeps_one_minus_rate_of_the_features_scaled_and_the_same_at_every_step() {
    // A SimpleRNN with kernel I, recurrent kernel 0 and bias 0 outputs h_t = tanh(x_t ⊙ m):
    // with x = c everywhere, each step shows the mask, 0 or tanh(c / (1 - rate)).
    let (b, t, f) = (64, 3, 50);
    let (rate, c) = (0.3f32, 0.25f32);
    let kept_value = (c * (1.0 / (1.0 - f64::from(rate))) as f32).tanh();
    let mut per_device = Vec::new();
    for device in devices() {
        let rnn = SimpleRnn::new(f).return_sequences(true).dropout(rate);
        let mut layer = built(rnn, &device, vec![None, Some(f)], 1);
        let mut eye = vec![0.0; f * f];
        (0..f).for_each(|i| eye[i * f + i] = 1.0);
        set_params(&mut layer, &device, &[eye, vec![0.0; f * f], vec![0.0; f]]);
        let x = Tensor::from_vec(&device, [b, t, f], vec![c; b * t * f]).unwrap();
        let y = run(&layer, &x, None, true);
        let mut kept = Vec::new();
        for s in 0..b {
            for j in 0..f {
                let at = |step: usize| y[(s * t + step) * f + j];
                let on = at(0) != 0.0;
                if on {
                    assert!((at(0) - kept_value).abs() < 1e-6, "{}", at(0));
                }
                for step in 1..t {
                    assert_eq!(at(step), at(0), "sample {s} feature {j} step {step}");
                }
                kept.push(on);
            }
        }
        // 3200 draws kept with p = 0.7: 2240 ± 130 (5 sd).
        let n = kept.iter().filter(|&&k| k).count();
        assert!((2110..=2370).contains(&n), "{n} of 3200 kept");
        // Inference: no mask at all.
        assert!(run(&layer, &x, None, false).iter().all(|&v| v != 0.0));
        per_device.push((device.info(), kept));
    }
    for (info, kept) in &per_device[1..] {
        assert_eq!(kept, &per_device[0].1, "{info}: the CPU's mask");
    }
}

#[test]
fn equal_seeds_draw_equal_masks_and_each_call_a_new_one() {
    let mut rng = common::rng("rnn dropout determinism");
    let (b, t, f) = (5, 4, 7);
    let x = common::uniform(&mut rng, b * t * f, -1.0, 1.0);
    all_kinds(6, |make| {
        let mut per_device = Vec::new();
        for device in devices() {
            let xt = Tensor::from_vec(&device, [b, t, f], x.clone()).unwrap();
            let dims = vec![None, Some(f)];
            let build = |layer: &mut Box<dyn Layer>, model_seed: u64| {
                let mut rng = StdRng::seed_from_u64(model_seed);
                layer
                    .build(&device, std::slice::from_ref(&dims), &mut rng)
                    .unwrap();
            };
            let mut layer = make(0.4, 0.3, None);
            build(&mut layer, 3);
            let kind = layer.kind();
            let calls: Vec<Vec<f32>> = (0..3).map(|_| run(&*layer, &xt, None, true)).collect();
            assert_ne!(calls[0], calls[1], "{kind}: a new mask at each call");
            assert_ne!(calls[1], calls[2], "{kind}: a new mask at each call");
            // Building again (compiling again) starts the stream over.
            build(&mut layer, 3);
            assert_eq!(run(&*layer, &xt, None, true), calls[0], "{kind}: rebuilt");
            // The model's seed draws the masks' seed: another model seed, other masks (and
            // weights); the layer's own seed keeps its masks whatever the model's seed.
            let w = params(&*layer);
            let mut other = make(0.4, 0.3, None);
            build(&mut other, 4);
            set_params(&mut *other, &device, &w);
            assert_ne!(
                run(&*other, &xt, None, true),
                calls[0],
                "{kind}: model seed 4"
            );
            let own = |model_seed| {
                let mut l = make(0.4, 0.3, Some(9));
                build(&mut l, model_seed);
                set_params(&mut *l, &device, &w);
                run(&*l, &xt, None, true)
            };
            assert_eq!(own(3), own(4), "{kind}: seed 9 under model seeds 3 and 4");
            per_device.push((device.info(), calls));
        }
        for (info, calls) in &per_device[1..] {
            for (got, want) in calls.iter().zip(&per_device[0].1) {
                let err = common::scaled_rel_err(got, want);
                assert!(err < 1e-3, "{info}: {err} from the CPU's (other masks?)");
            }
        }
    });
}

fn sequences(rng: &mut StdRng, n: usize) -> (Array3<f32>, Array1<f32>) {
    let x = Array3::from_shape_fn((n, 6, 3), |_| rng.random_range(-1.0f32..1.0));
    let y = Array1::from_iter(x.outer_iter().map(|s| f32::from(s.sum() > 0.0)));
    (x, y)
}

#[test]
fn predict_and_evaluate_ignore_both_dropouts_and_training_does_not() {
    let mut rng = common::rng("rnn dropout inference");
    let (x, y) = sequences(&mut rng, 23);
    for device in devices() {
        all_kinds(5, |make| {
            let model = |d, r| {
                let mut m = Sequential::new()
                    .seed(2)
                    .input_shape([None, Some(3)])
                    .add_boxed(make(d, r, None))
                    .add(Dense::new(1).activation(Activation::Sigmoid));
                m.compile(&device, Optimizer::sgd(), Loss::BinaryCrossentropy, &[])
                    .unwrap();
                m
            };
            let mut plain = model(0.0, 0.0);
            let weights: Vec<ArrayD<f32>> = plain
                .get_weights()
                .unwrap()
                .into_iter()
                .map(|(_, w)| w)
                .collect();
            for (d, r) in [(0.5, 0.0), (0.0, 0.5), (0.5, 0.5)] {
                let mut with = model(d, r);
                with.set_weights(&weights).unwrap();
                let on = format!("dropout {d} recurrent {r} on {}", device.info());
                let p = with.predict(&x).unwrap();
                assert_eq!(p, plain.predict(&x).unwrap(), "{on}");
                let loss = with.evaluate(&x, &y).unwrap().loss;
                assert_eq!(loss, plain.evaluate(&x, &y).unwrap().loss, "{on}");
                let (ga, gb) = (
                    with.gradients(&x, &y).unwrap(),
                    plain.gradients(&x, &y).unwrap(),
                );
                assert!(ga.iter().zip(&gb).all(|((_, a), (_, b))| a != b), "{on}");
            }
        });
    }
}

#[test]
fn recurrent_dropout_keeps_one_minus_rate_of_the_state_scaled_and_the_same_at_every_step() {
    // SimpleRNN with kernel I, recurrent kernel I, bias 0 and x = c at step 0, 0 after:
    // h_1 = tanh(c), then h_t = tanh(h_{t-1} ⊙ r): 0 where r drops a unit, at every step.
    let (b, t, u) = (64, 3, 50);
    let (rate, c) = (0.3f32, 0.5f32);
    let scale = (1.0 / (1.0 - f64::from(rate))) as f32;
    let mut per_device = Vec::new();
    for device in devices() {
        let rnn = SimpleRnn::new(u)
            .return_sequences(true)
            .recurrent_dropout(rate);
        let mut layer = built(rnn, &device, vec![None, Some(u)], 1);
        let mut eye = vec![0.0; u * u];
        (0..u).for_each(|i| eye[i * u + i] = 1.0);
        set_params(&mut layer, &device, &[eye.clone(), eye, vec![0.0; u]]);
        let x: Vec<f32> = (0..b * t * u)
            .map(|i| if (i / u) % t == 0 { c } else { 0.0 })
            .collect();
        let x = Tensor::from_vec(&device, [b, t, u], x).unwrap();
        let y = run(&layer, &x, None, true);
        let mut kept = Vec::new();
        for s in 0..b {
            for j in 0..u {
                let at = |step: usize| y[(s * t + step) * u + j];
                assert!((at(0) - c.tanh()).abs() < 1e-6, "step 0 is not dropped");
                let on = at(1) != 0.0;
                if on {
                    let want = (c.tanh() * scale).tanh();
                    assert!((at(1) - want).abs() < 1e-6, "{} vs {want}", at(1));
                    assert!((at(2) - (at(1) * scale).tanh()).abs() < 1e-6);
                } else {
                    assert_eq!(at(2), 0.0, "sample {s} unit {j}: the same mask at step 2");
                }
                kept.push(on);
            }
        }
        // 3200 draws kept with p = 0.7: 2240 ± 130 (5 sd).
        let n = kept.iter().filter(|&&k| k).count();
        assert!((2110..=2370).contains(&n), "{n} of 3200 kept");
        assert!(run(&layer, &x, None, false).iter().all(|&v| v != 0.0));
        per_device.push((device.info(), kept));
    }
    for (info, kept) in &per_device[1..] {
        assert_eq!(kept, &per_device[0].1, "{info}: the CPU's mask");
    }
}

#[test]
fn rates_outside_zero_to_one_are_refused_at_build_naming_the_layer() {
    for rate in [-0.1f32, 1.0, 1.5, f32::NAN] {
        all_kinds(2, |make| {
            for (d, r, what) in [(rate, 0.0, "dropout"), (0.0, rate, "recurrent_dropout")] {
                let layer = make(d, r, None);
                let kind = layer.kind();
                let mut model = Sequential::new()
                    .input_shape([None, Some(3)])
                    .add_boxed(layer);
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
                let name = match kind {
                    "lstm" => "LSTM",
                    "gru" => "GRU",
                    _ => "SimpleRNN",
                };
                let named = m.contains(&format!("{name} {what}:"));
                assert!(named && m.contains(&format!("got {rate}")), "{m}");
            }
        });
    }
}

#[test]
fn fit_with_both_dropouts_gives_the_same_losses_on_the_cpu_and_the_gpu() {
    let mut rng = common::rng("rnn dropout fit");
    let (x, y) = sequences(&mut rng, 40);
    let Some(gpu) = common::gpu() else { return };
    all_kinds(6, |make| {
        let mut losses = Vec::new();
        for device in [Device::cpu(), gpu.clone()] {
            let mut m = Sequential::new()
                .seed(4)
                .input_shape([None, Some(3)])
                .add_boxed(make(0.3, 0.2, None))
                .add(Dense::new(1).activation(Activation::Sigmoid));
            m.compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
                .unwrap();
            let h = m
                .fit(&x, &y, FitOptions::new().epochs(3).batch_size(8).verbose(0))
                .unwrap();
            losses.push(h.history["loss"].clone());
        }
        let err = common::scaled_rel_err(&losses[1], &losses[0]);
        assert!(err < 1e-4, "{:?} vs {:?}", losses[1], losses[0]);
    });
}
