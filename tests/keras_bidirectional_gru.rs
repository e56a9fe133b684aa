//! Keras parity for Bidirectional GRUs with `merge_mode="sum"` (goldens from
//! `tools/keras_golden.py`'s `bidirectional_gru_cases`): on post- and pre-padded masked
//! batches, from the same initial weights, on the CPU and the GPU, the predictions, the first
//! batch's loss and gradients, one `train_on_batch` and a two-epoch fit give Keras 3's numbers,
//! with the tolerances of `tests/keras_parity.rs`.

mod common;

use common::golden::{devices, parity};
use wgfit::prelude::*;

/// Input(None, F) -> Masking(0) -> Bidirectional(`gru`, sum) -> `head`.
fn masked_bigru_sum(features: usize, gru: Gru, head: Dense) -> Model {
    let inputs = Input::new([None, Some(features)]);
    let masked = Masking::new(0.0).call(&inputs);
    let h = Bidirectional::new(gru)
        .merge_mode(MergeMode::Sum)
        .call(&masked);
    Model::new(&inputs, &head.call(&h)).unwrap()
}

fn sigmoid() -> Dense {
    Dense::new(1).activation(Activation::Sigmoid)
}

#[test]
fn bidirectional_gru_sum_post_padded_adam() {
    for device in devices() {
        let mut model = masked_bigru_sum(4, Gru::new(5), sigmoid());
        parity("bidirectional_gru_sum_post_adam_bce", &device, &mut model);
    }
}

#[test]
fn bidirectional_gru_sum_pre_padded_rmsprop() {
    for device in devices() {
        let mut model = masked_bigru_sum(4, Gru::new(5), sigmoid());
        parity("bidirectional_gru_sum_pre_rmsprop_bce", &device, &mut model);
    }
}

#[test]
fn bidirectional_gru_sum_of_post_padded_sequences_masked_sequence_loss() {
    for device in devices() {
        let gru = Gru::new(4).return_sequences(true);
        let head = Dense::new(3).activation(Activation::Softmax);
        let mut model = masked_bigru_sum(3, gru, head);
        parity(
            "bidirectional_gru_sum_sequences_adam_scce",
            &device,
            &mut model,
        );
    }
}
