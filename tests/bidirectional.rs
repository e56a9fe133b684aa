//! `Bidirectional(layer)` beyond Keras's golden files, on the CPU and the GPU: the backward
//! direction is the layer run over each sequence reversed, whichever side the padding is on,
//! and every merge mode combines the directions as Keras does. Training, gradients and
//! `MergeMode::None` in a graph: `tests/bidirectional_training.rs`.

mod common;

use common::gpu;
use common::max_rel_err;
use common::padded::{padded, repadded};
use ndarray::{ArrayD, Axis, s};
use rand::SeedableRng;
use rand::rngs::StdRng;
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    [Some(Device::cpu()), gpu()].into_iter().flatten().collect()
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
fn a_bidirectional_layer_used_before_it_is_built_says_so() {
    use wgfit::layers::Layer;
    let layer = Bidirectional::new(Lstm::new(2));
    let x = Tensor::zeros(&Device::cpu(), [1, 2, 3]).unwrap();
    assert!(matches!(
        layer.forward(&[&x], &[None], false),
        Err(Error::Config(_))
    ));
}
