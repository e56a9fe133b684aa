//! Keras parity of `dropout` and `recurrent_dropout` on LSTM, GRU and SimpleRNN while
//! training, on the CPU reference and the GPU. Keras's random stream cannot be matched, so
//! `tools/golden_rnn_dropout.py` gives Keras the masks wgfit draws (its counter-based hash
//! re-written in numpy; this test first checks those masks are wgfit's, bit for bit): Masking
//! -> RNN(5, dropout 0.3, recurrent_dropout 0.25, one mask per gate as Keras's
//! implementation 1) -> Dense sigmoid on a post-padded batch. With the layer's seed, its first
//! training call (here `gradients`) draws counters 0 and 1, its second (`train_on_batch`) 2
//! and 3: the gradients, the loss and the weights after one SGD step must be Keras's.

mod common;

use common::golden::{
    FIRST_LOSS, GRADIENTS, Golden, ONE_STEP, PREDICTIONS, check, check_scalar, devices,
};
use wgfit::layers::Layer;
use wgfit::ops::dropout::dropout_mask;
use wgfit::prelude::*;

/// Masking -> `rnn` -> Dense sigmoid, as the case builds it.
fn model(rnn: Box<dyn Layer>) -> Sequential {
    Sequential::new()
        .input_shape([None, Some(4)])
        .add(Masking::new(0.0))
        .add_boxed(rnn)
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

fn layer(name: &str, seed: u64, (rate, recurrent): (f32, f32)) -> Box<dyn Layer> {
    match name {
        "lstm_dropout_masks_sgd_bce" => Box::new(
            Lstm::new(5)
                .dropout(rate)
                .recurrent_dropout(recurrent)
                .seed(seed),
        ),
        "gru_dropout_masks_sgd_bce" => Box::new(
            Gru::new(5)
                .dropout(rate)
                .recurrent_dropout(recurrent)
                .seed(seed),
        ),
        _ => Box::new(
            SimpleRnn::new(5)
                .dropout(rate)
                .recurrent_dropout(recurrent)
                .seed(seed),
        ),
    }
}

fn case(name: &str) {
    let g = Golden::load(name);
    let number = |key: &str| g.info[key].as_f64().unwrap();
    let seed = g.info["seed"].as_u64().unwrap();
    let rates = (number("dropout") as f32, number("recurrent_dropout") as f32);
    // The masks Keras was given are the ones wgfit draws (so the numpy hash is wgfit's).
    for k in 0..2u64 {
        for (kind, rate, counter) in [("input", rates.0, 2 * k), ("recurrent", rates.1, 2 * k + 1)]
        {
            let want = g.tensor(&format!("mask.{kind}.{k}"));
            let got = dropout_mask(&Device::cpu(), want.shape().to_vec(), rate, seed, counter)
                .unwrap()
                .to_array_blocking()
                .unwrap();
            assert_eq!(&got, want, "{name}: {kind} mask of call {k}");
            let kept = want.iter().filter(|&&m| m > 0.0).count() as f32 / want.len() as f32;
            assert!(
                (0.4..0.95).contains(&kept),
                "{name}: {kind} masks keep {kept}"
            );
        }
    }
    let (x, y) = (g.tensor("x"), g.tensor("y"));
    for device in devices() {
        let on = format!("{name} on {}", device.info());
        let mut m = model(layer(name, seed, rates));
        g.fresh(&mut m, &device);
        let pred = m.predict(x).unwrap();
        check(
            &format!("{on}: predictions (no dropout)"),
            &pred,
            g.tensor("pred"),
            PREDICTIONS,
        );
        let grads = m.gradients(x, y).unwrap();
        g.check_weights("gradient (masks of call 0)", &grads, "grad", GRADIENTS);
        let loss = m.train_on_batch(x, y).unwrap();
        check_scalar(
            &format!("{on}: train_on_batch loss (call 1)"),
            loss,
            number("step_loss") as f32,
            FIRST_LOSS,
        );
        let after = m.get_weights().unwrap();
        g.check_weights(
            "after one step (masks of call 1)",
            &after,
            "step1",
            ONE_STEP,
        );
    }
}

#[test]
fn lstm_dropout_and_recurrent_dropout_train_as_keras_with_the_same_masks() {
    case("lstm_dropout_masks_sgd_bce");
}

#[test]
fn gru_dropout_and_recurrent_dropout_train_as_keras_with_the_same_masks() {
    case("gru_dropout_masks_sgd_bce");
}

#[test]
fn simple_rnn_dropout_and_recurrent_dropout_train_as_keras_with_the_same_masks() {
    case("simple_rnn_dropout_masks_sgd_bce");
}
