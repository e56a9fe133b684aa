//! Keras parity for Bidirectional and stacked recurrent layers (goldens from
//! `tools/keras_golden.py`'s `bidirectional_cases`): from the same initial weights, on the CPU
//! and the GPU, the predictions, the first batch's loss and gradients, one `train_on_batch`
//! and a two-epoch fit give Keras 3's numbers, with the tolerances of `tests/keras_parity.rs`.

mod common;

use common::golden::{devices, parity};
use wgfit::prelude::*;

/// Input(None, F) -> Masking(0) -> `recurrent` -> `head`.
fn masked(features: usize, recurrent: impl FnOnce(&Node) -> Node, head: Dense) -> Model {
    let inputs = Input::new([None, Some(features)]);
    let h = recurrent(&Masking::new(0.0).call(&inputs));
    Model::new(&inputs, &head.call(&h)).unwrap()
}

fn sigmoid() -> Dense {
    Dense::new(1).activation(Activation::Sigmoid)
}

#[test]
fn bidirectional_lstm_post_padded_adam() {
    for device in devices() {
        let mut model = masked(4, |x| Bidirectional::new(Lstm::new(5)).call(x), sigmoid());
        parity("bidirectional_lstm_post_adam_bce", &device, &mut model);
    }
}

#[test]
fn bidirectional_lstm_pre_padded_rmsprop() {
    for device in devices() {
        let mut model = masked(4, |x| Bidirectional::new(Lstm::new(5)).call(x), sigmoid());
        parity("bidirectional_lstm_pre_rmsprop_bce", &device, &mut model);
    }
}

#[test]
fn bidirectional_lstm_sum_of_sequences_masked_sequence_loss() {
    for device in devices() {
        let bidi = |x: &Node| {
            Bidirectional::new(Lstm::new(4).return_sequences(true))
                .merge_mode(MergeMode::Sum)
                .call(x)
        };
        let head = Dense::new(3).activation(Activation::Softmax);
        let mut model = masked(3, bidi, head);
        parity(
            "bidirectional_lstm_sum_sequences_adam_scce",
            &device,
            &mut model,
        );
    }
}

#[test]
fn stacked_masked_lstms_adam() {
    for device in devices() {
        let stack = |x: &Node| Lstm::new(4).call(&Lstm::new(5).return_sequences(true).call(x));
        let mut model = masked(3, stack, sigmoid());
        parity("stacked_masked_lstm_adam_bce", &device, &mut model);
    }
}
