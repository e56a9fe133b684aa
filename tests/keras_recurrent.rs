//! Keras parity of the GRU and SimpleRNN (`tools/keras_golden.py`'s `gru_cases` and
//! `simple_rnn_cases`): Masking -> GRU(5) ->
//! Dense sigmoid with `reset_after` true (Keras's default, `bias [2, 3u]`) and false
//! (`bias [3u]`), each on post- and pre-padded batches, and a masked GRU with
//! `return_sequences` under a per-step softmax; Masking -> SimpleRNN(5) -> Dense sigmoid,
//! post- and pre-padded. On the CPU reference and the GPU, from the
//! same initial weights: predictions, the first batch's loss and gradients, the weights after
//! one `train_on_batch`, the history and weights after `fit(epochs=2, shuffle=False)`.

mod common;

use common::golden::{devices, parity};
use wgfit::prelude::*;

fn masked_gru(reset_after: bool) -> Model {
    let inputs = Input::new([None, Some(10)]);
    let masked = Masking::new(0.0).call(&inputs);
    let gru = Gru::new(5).reset_after(reset_after).call(&masked);
    let outputs = Dense::new(1).activation(Activation::Sigmoid).call(&gru);
    Model::new(&inputs, &outputs).unwrap()
}

#[test]
fn masked_gru_reset_after_post_padded_adam() {
    for device in devices() {
        parity(
            "masked_gru_after_post_adam_bce",
            &device,
            &mut masked_gru(true),
        );
    }
}

#[test]
fn masked_gru_reset_after_pre_padded_rmsprop() {
    for device in devices() {
        parity(
            "masked_gru_after_pre_rmsprop_bce",
            &device,
            &mut masked_gru(true),
        );
    }
}

#[test]
fn masked_gru_reset_before_post_padded_rmsprop() {
    for device in devices() {
        parity(
            "masked_gru_before_post_rmsprop_bce",
            &device,
            &mut masked_gru(false),
        );
    }
}

#[test]
fn masked_gru_reset_before_pre_padded_adam() {
    for device in devices() {
        parity(
            "masked_gru_before_pre_adam_bce",
            &device,
            &mut masked_gru(false),
        );
    }
}

/// With `return_sequences` a masked step outputs the carried h, as Keras's GRU on TensorFlow
/// does (`zero_output_for_mask=False`), and the loss averages over unmasked steps.
#[test]
fn gru_return_sequences_pre_padded_masked_sequence_loss_adam() {
    for device in devices() {
        let inputs = Input::new([None, Some(3)]);
        let masked = Masking::new(0.0).call(&inputs);
        let seq = Gru::new(6).return_sequences(true).call(&masked);
        let outputs = Dense::new(3).activation(Activation::Softmax).call(&seq);
        let mut model = Model::new(&inputs, &outputs).unwrap();
        parity("gru_sequences_adam_scce", &device, &mut model);
    }
}

fn masked_simple_rnn() -> Model {
    let inputs = Input::new([None, Some(10)]);
    let masked = Masking::new(0.0).call(&inputs);
    let rnn = SimpleRnn::new(5).call(&masked);
    let outputs = Dense::new(1).activation(Activation::Sigmoid).call(&rnn);
    Model::new(&inputs, &outputs).unwrap()
}

#[test]
fn masked_simple_rnn_post_padded_adam() {
    for device in devices() {
        parity(
            "masked_simple_rnn_post_adam_bce",
            &device,
            &mut masked_simple_rnn(),
        );
    }
}

#[test]
fn masked_simple_rnn_pre_padded_rmsprop() {
    for device in devices() {
        parity(
            "masked_simple_rnn_pre_rmsprop_bce",
            &device,
            &mut masked_simple_rnn(),
        );
    }
}
