//! `Bidirectional(layer)` beyond Keras's golden files, on the CPU and the GPU: the backward
//! direction is the layer run over each sequence reversed, whichever side the padding is on;
//! every merge mode combines the directions as Keras does; `MergeMode::None` gives two outputs
//! a functional model can use; gradients match finite differences and the GPU's match the CPU's.

mod common;

use common::{check_finite_differences, gpu, max_rel_err};
use ndarray::{Array1, Array3, ArrayD, Axis, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    [Some(Device::cpu()), gpu()].into_iter().flatten().collect()
}

/// Sequences of the given lengths (features in ±[0.1, 1], never the mask value 0), padded to
/// the longest after the steps (`post`) or before them.
fn padded(rng: &mut StdRng, lengths: &[usize], f: usize, post: bool) -> Array3<f32> {
    let t = *lengths.iter().max().unwrap();
    let mut x = Array3::zeros((lengths.len(), t, f));
    for (i, &len) in lengths.iter().enumerate() {
        let start = if post { 0 } else { t - len };
        for s in start..start + len {
            for k in 0..f {
                x[[i, s, k]] =
                    rng.random_range(0.1f32..1.0) * if rng.random() { 1.0 } else { -1.0 };
            }
        }
    }
    x
}

/// The same sequences padded on the other side.
fn repadded(x: &Array3<f32>, lengths: &[usize]) -> Array3<f32> {
    let t = x.shape()[1];
    let mut y = Array3::zeros(x.raw_dim());
    for (i, &len) in lengths.iter().enumerate() {
        y.slice_mut(s![i, t - len.., ..])
            .assign(&x.slice(s![i, ..len, ..]));
    }
    y
}

const LENGTHS: [usize; 5] = [4, 1, 6, 3, 6];

fn bidirectional(sequences: bool, merge: MergeMode, seed: u64) -> Model {
    let x = Input::new([None, Some(3)]);
    let y = Bidirectional::new(Lstm::new(4).return_sequences(sequences))
        .merge_mode(merge)
        .call(&Masking::new(0.0).call(&x));
    let outputs = match merge {
        MergeMode::None => vec![y.output(0).unwrap(), y.output(1).unwrap()],
        _ => vec![y],
    };
    Model::new(&x, &outputs).unwrap().seed(seed)
}

fn compiled(mut model: Model, device: &Device) -> Model {
    model
        .compile(device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
        .unwrap();
    model
}

fn close(got: &ArrayD<f32>, want: &ArrayD<f32>, tol: f32, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    let (g, w) = (
        got.iter().copied().collect::<Vec<_>>(),
        want.iter().copied().collect::<Vec<_>>(),
    );
    let err = max_rel_err(&g, &w);
    let abs = g
        .iter()
        .zip(&w)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        err <= tol || abs <= tol * 1e-2,
        "{what}: relative error {err:e}, absolute {abs:e}"
    );
}

#[test]
fn the_backward_direction_is_the_layer_over_each_sequence_reversed() {
    let mut rng = StdRng::seed_from_u64(11);
    let x = padded(&mut rng, &LENGTHS, 3, true);
    for device in devices() {
        let mut bidi = compiled(bidirectional(true, MergeMode::None, 1), &device);
        let outs = bidi.predict_many(&x).unwrap();
        let weights: Vec<ArrayD<f32>> = bidi
            .get_weights()
            .unwrap()
            .into_iter()
            .map(|(_, w)| w)
            .collect();
        let mut plain = Sequential::new().add(
            Lstm::new(4)
                .return_sequences(true)
                .input_shape([None, Some(3)]),
        );
        plain
            .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
            .unwrap();
        for (i, &len) in LENGTHS.iter().enumerate() {
            let seq = x.slice(s![i..=i, ..len, ..]).to_owned();
            let mut reversed = seq.clone();
            reversed.invert_axis(Axis(1));
            plain.set_weights(&weights[..3]).unwrap();
            let f = plain.predict(&seq).unwrap();
            plain.set_weights(&weights[3..]).unwrap();
            let mut b = plain.predict(&reversed).unwrap();
            b.invert_axis(Axis(1));
            let what = format!("sample {i} (length {len}) on {}", device.info());
            let got_f = outs[0].slice(s![i..=i, ..len, ..]).to_owned().into_dyn();
            let got_b = outs[1].slice(s![i..=i, ..len, ..]).to_owned().into_dyn();
            close(&got_f, &f, 1e-5, &format!("forward, {what}"));
            close(&got_b, &b, 1e-5, &format!("backward, {what}"));
            // Keras's zero_output_for_mask: the padding outputs 0 in both directions.
            for out in &outs {
                assert!(
                    out.slice(s![i, len.., ..]).iter().all(|&v| v == 0.0),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn post_and_pre_padding_give_the_same_outputs() {
    let mut rng = StdRng::seed_from_u64(12);
    let post = padded(&mut rng, &LENGTHS, 3, true);
    let pre = repadded(&post, &LENGTHS);
    let t = post.shape()[1];
    for device in devices() {
        for merge in [MergeMode::Concat, MergeMode::Mul] {
            let mut last = compiled(bidirectional(false, merge, 2), &device);
            let (a, b) = (last.predict(&post).unwrap(), last.predict(&pre).unwrap());
            close(
                &a,
                &b,
                1e-5,
                &format!("last states {merge:?} on {}", device.info()),
            );
            let mut every = compiled(bidirectional(true, merge, 2), &device);
            let (a, b) = (every.predict(&post).unwrap(), every.predict(&pre).unwrap());
            for (i, &len) in LENGTHS.iter().enumerate() {
                let steps_a = a.slice(s![i, ..len, ..]).to_owned().into_dyn();
                let steps_b = b.slice(s![i, t - len.., ..]).to_owned().into_dyn();
                close(
                    &steps_a,
                    &steps_b,
                    1e-5,
                    &format!("sample {i} {merge:?} on {}", device.info()),
                );
            }
        }
    }
}

#[test]
fn every_merge_mode_combines_the_two_directions_as_keras() {
    let mut rng = StdRng::seed_from_u64(13);
    let x = padded(&mut rng, &LENGTHS, 3, false);
    for device in devices() {
        for sequences in [false, true] {
            let mut none = compiled(bidirectional(sequences, MergeMode::None, 3), &device);
            let weights: Vec<ArrayD<f32>> = none
                .get_weights()
                .unwrap()
                .into_iter()
                .map(|(_, w)| w)
                .collect();
            let fb = none.predict_many(&x).unwrap();
            let (f, b) = (&fb[0], &fb[1]);
            assert!(
                max_rel_err(
                    &f.iter().copied().collect::<Vec<_>>(),
                    &b.iter().copied().collect::<Vec<_>>()
                ) > 1e-2
            );
            let last = f.ndim() - 1;
            let want = [
                (
                    MergeMode::Concat,
                    ndarray::concatenate(Axis(last), &[f.view(), b.view()]).unwrap(),
                ),
                (MergeMode::Sum, f + b),
                (MergeMode::Mul, f * b),
                (MergeMode::Ave, (f + b) / 2.0),
            ];
            for (merge, want) in want {
                let mut model = compiled(bidirectional(sequences, merge, 4), &device);
                model.set_weights(&weights).unwrap();
                let got = model.predict(&x).unwrap();
                close(
                    &got,
                    &want,
                    1e-6,
                    &format!("{merge:?}, sequences {sequences}, on {}", device.info()),
                );
            }
        }
    }
}

#[test]
fn gradients_match_finite_differences_in_every_merge_mode() {
    let mut rng = StdRng::seed_from_u64(14);
    let lengths = [3, 1, 4];
    for (merge, sequences) in [
        (MergeMode::Concat, false),
        (MergeMode::Concat, true),
        (MergeMode::Sum, true),
        (MergeMode::Mul, false),
        (MergeMode::Ave, true),
        (MergeMode::None, false),
    ] {
        let post = sequences && merge != MergeMode::Sum;
        let x = padded(&mut rng, &lengths, 2, post);
        let input = Input::new([None, Some(2)]);
        let y = Bidirectional::new(Lstm::new(2).return_sequences(sequences))
            .merge_mode(merge)
            .call(&Masking::new(0.0).call(&input));
        let head = match merge {
            // Both outputs side by side (the backward one reached through output 1).
            MergeMode::None => {
                Concatenate::new().call_many(&[&y.output(0).unwrap(), &y.output(1).unwrap()])
            }
            _ => y,
        };
        let out = Dense::new(1).call(&head);
        let mut model = Model::new(&input, &out).unwrap().seed(5);
        model
            .compile(
                &Device::cpu(),
                Optimizer::sgd(),
                Loss::MeanSquaredError,
                &[],
            )
            .unwrap();
        let target: ArrayD<f32> = if sequences {
            ArrayD::from_shape_fn(vec![3, 4, 1], |_| rng.random_range(-1.0f32..1.0))
        } else {
            ArrayD::from_shape_fn(vec![3, 1], |_| rng.random_range(-1.0f32..1.0))
        };
        check_finite_differences(
            &mut model,
            &x,
            &target,
            &format!("{merge:?}, sequences {sequences}"),
        );
    }
}

#[test]
fn gpu_gradients_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(15);
    let x = padded(&mut rng, &[5, 2, 7, 1], 3, false);
    let y = Array1::from_shape_fn(4, |_| rng.random_range(0..2) as f32);
    let grads = |device: &Device| {
        let input = Input::new([None, Some(3)]);
        let h = Bidirectional::new(Lstm::new(5).return_sequences(true))
            .merge_mode(MergeMode::Ave)
            .call(&Masking::new(0.0).call(&input));
        let h = Bidirectional::new(Lstm::new(3)).call(&h);
        let out = Dense::new(1).activation(Activation::Sigmoid).call(&h);
        let mut model = Model::new(&input, &out).unwrap().seed(6);
        model
            .compile(device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        model.gradients(&x, &y).unwrap()
    };
    for ((name, want), (_, got)) in grads(&Device::cpu()).iter().zip(grads(&gpu)) {
        let (w, g) = (
            want.iter().copied().collect::<Vec<_>>(),
            got.iter().copied().collect::<Vec<_>>(),
        );
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = g
            .iter()
            .zip(&w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            err <= 1e-4 * scale.max(1e-3),
            "{name}: GPU differs from the CPU by {err:e} (scale {scale:e})"
        );
    }
}

#[test]
fn merge_none_gives_two_outputs_a_functional_model_trains_on() {
    let mut rng = StdRng::seed_from_u64(16);
    let x = padded(&mut rng, &[3, 5, 2, 5, 4, 1, 5, 3], 3, true);
    let y_f = Array1::from_shape_fn(8, |i| (i % 2) as f32);
    let y_b = Array1::from_shape_fn(8, |i| ((i / 2) % 2) as f32);
    for device in devices() {
        let input = Input::new([None, Some(3)]);
        let both = Bidirectional::new(Lstm::new(4))
            .merge_mode(MergeMode::None)
            .call(&Masking::new(0.0).call(&input));
        let f = Dense::new(1)
            .activation(Activation::Sigmoid)
            .name("f")
            .call(&both.output(0).unwrap());
        let b = Dense::new(1)
            .activation(Activation::Sigmoid)
            .name("b")
            .call(&both.output(1).unwrap());
        let mut model = Model::new(&input, &[&f, &b]).unwrap().seed(7);
        model
            .compile(
                &device,
                Optimizer::adam().learning_rate(0.05),
                Loss::BinaryCrossentropy,
                &[],
            )
            .unwrap();
        let history = model
            .fit(
                &x,
                [y_f.view().into_dyn(), y_b.view().into_dyn()],
                FitOptions::new().batch_size(4).epochs(20),
            )
            .unwrap();
        let loss = history.loss();
        assert!(loss[19] < 0.7 * loss[0], "on {}: {loss:?}", device.info());
        let preds = model.predict_many(&x).unwrap();
        assert_eq!(
            (preds.len(), preds[0].shape(), preds[1].shape()),
            (2, &[8, 1][..], &[8, 1][..])
        );
    }
    // Output 2 does not exist, and a Sequential passes one output from layer to layer.
    let input = Input::new([None, Some(3)]);
    let both = Bidirectional::new(Lstm::new(4))
        .merge_mode(MergeMode::None)
        .call(&input);
    let mut model = Model::new(&input, &both.output(2).unwrap()).unwrap();
    let err = model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .and_then(|_| model.predict(&x).map(drop));
    assert!(
        matches!(err, Err(Error::Config(ref m)) if m.contains("gives 2 outputs where 3")),
        "{err:?}"
    );
    let mut seq = Sequential::new().add(
        Bidirectional::new(Lstm::new(4))
            .merge_mode(MergeMode::None)
            .input_shape([None, Some(3)]),
    );
    let err = seq
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .and_then(|_| seq.predict(&x).map(drop));
    assert!(matches!(err, Err(Error::Config(_))), "{err:?}");
    assert!(matches!(
        Input::new([Some(1)]).output(1),
        Err(Error::Config(_))
    ));
}

#[test]
fn a_bidirectional_layer_used_before_it_is_built_says_so() {
    use wgfit::layers::Layer;
    let layer = Bidirectional::new(Lstm::new(2));
    let x = Tensor::zeros(&Device::cpu(), [1, 2, 3]).unwrap();
    assert!(matches!(
        layer.forward(&[&x], &[None], false),
        Err(Error::Config(_))
    ));
}

/// Dispatches of one `train_on_batch` (after a first one that builds everything).
fn dispatches_per_step(
    device: &Device,
    model: &mut Model,
    x: &Array3<f32>,
    y: &Array1<f32>,
) -> u64 {
    let ctx = device.gpu_context().expect("a GPU device");
    model.train_on_batch(x, y).unwrap();
    let before = ctx.counters().dispatches;
    for _ in 0..3 {
        model.train_on_batch(x, y).unwrap();
    }
    (ctx.counters().dispatches - before) / 3
}

#[test]
fn a_bidirectional_step_costs_two_lstms_side_by_side_and_two_reversals() {
    let Some(device) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(17);
    let x = padded(&mut rng, &[9, 4, 12, 7], 3, true);
    let y = Array1::from_shape_fn(4, |i| (i % 2) as f32);
    let model = |bidirectional: bool| {
        let input = Input::new([None, Some(3)]);
        let m = Masking::new(0.0).call(&input);
        let h = if bidirectional {
            Bidirectional::new(Lstm::new(8)).call(&m)
        } else {
            Concatenate::new().call_many(&[&Lstm::new(8).call(&m), &Lstm::new(8).call(&m)])
        };
        let out = Dense::new(1).activation(Activation::Sigmoid).call(&h);
        let mut model = Model::new(&input, &out).unwrap();
        model
            .compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        model
    };
    let side_by_side = dispatches_per_step(&device, &mut model(false), &x, &y);
    let both = dispatches_per_step(&device, &mut model(true), &x, &y);
    eprintln!(
        "dispatches per step on {}: two LSTM(8) concatenated {side_by_side}, Bidirectional(LSTM(8)) {both}",
        device.info()
    );
    // Reversing x and the mask; the input needs no gradient, so no dx comes back reversed.
    assert_eq!(both, side_by_side + 2);
}
