//! Keras parity for Normalization (tests/golden/normalization_masked_lstm_adam_bce, from
//! `tools/keras_golden.py`): the mean and variance adapted on variable-length sequences, and
//! Masking -> Normalization -> LSTM -> Dense(sigmoid) predicting and taking one Adam step, on
//! both devices, with the README's tolerances.

mod common;

use common::golden::{FIRST_LOSS, Golden, ONE_STEP, PREDICTIONS, check, check_scalar, devices};
use ndarray::{Axis, s};
use wgfit::prelude::*;

const NAME: &str = "normalization_masked_lstm_adam_bce";

#[test]
fn normalization_adapted_on_ragged_sequences_matches_keras() {
    let g = Golden::load(NAME);
    let (x, y) = (g.tensor("x"), g.tensor("y"));
    let lengths = g.tensor("lengths");
    let x3 = x.view().into_dimensionality::<ndarray::Ix3>().unwrap();
    let seqs: Vec<_> = (0..x3.len_of(Axis(0)))
        .map(|i| x3.slice(s![i, ..lengths[i] as usize, ..]).to_owned())
        .collect();
    for device in devices() {
        let on = format!("{NAME} on {}", device.info());
        let mut norm = Normalization::new();
        norm.adapt_sequences(&seqs).unwrap();
        let stat = |v: &[f32]| ndarray::ArrayD::from_shape_vec(vec![3], v.to_vec()).unwrap();
        check(
            &format!("{on}: mean"),
            &stat(norm.mean().unwrap()),
            g.tensor("mean"),
            1e-5,
        );
        check(
            &format!("{on}: variance"),
            &stat(norm.variance().unwrap()),
            g.tensor("variance"),
            1e-5,
        );
        let mut model = Sequential::new()
            .add(Masking::new(0.0).input_shape([None, Some(3)]))
            .add(norm)
            .add(Lstm::new(4))
            .add(Dense::new(1).activation(Activation::Sigmoid));
        model
            .compile(&device, g.optimizer(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        // Keras's get_weights order: the Normalization's mean, variance, count first (its
        // layer comes first), then the trainable ones, which start from the golden's. The
        // statistics are Keras's own from here on (checked above to 1e-5): Adam moves a weight
        // with a near-zero gradient by about its learning rate whatever the gradient, so the
        // one-step check needs identical inputs, not ones equal to 1e-7.
        let weights: Vec<_> = model
            .get_weights()
            .unwrap()
            .into_iter()
            .map(
                |(name, w)| match name.strip_prefix("layers.1.normalization.") {
                    Some("count") => w,
                    Some(stat) => g.tensor(stat).clone(),
                    None => g.tensor(&format!("init.{name}")).clone(),
                },
            )
            .collect();
        model.set_weights(&weights).unwrap();
        check(
            &format!("{on}: predictions"),
            &model.predict(x).unwrap(),
            g.tensor("pred"),
            PREDICTIONS,
        );
        let b = g.batch_size();
        let (xb, yb) = (
            x.slice_axis(Axis(0), (0..b).into()),
            y.slice_axis(Axis(0), (0..b).into()),
        );
        let loss = model.train_on_batch(vec![xb], vec![yb]).unwrap();
        let keras = g.info["first_batch_loss"].as_f64().unwrap() as f32;
        check_scalar(
            &format!("{on}: train_on_batch loss"),
            loss,
            keras,
            FIRST_LOSS,
        );
        for (name, w) in model.get_weights().unwrap() {
            if name.contains("normalization") {
                continue;
            }
            check(
                &format!("{on}: {name} after one step"),
                &w,
                g.tensor(&format!("step1.{name}")),
                ONE_STEP,
            );
        }
    }
}
