//! Keras parity of Bidirectional with states (`tools/keras_golden.py`'s
//! `bidirectional_state_cases`): Masking -> Bidirectional(LSTM(4, return_state)) encoding a
//! post-padded source, its [h_f, h_b] and [c_f, c_b] (Concatenate) the initial state of an
//! LSTM(8, return_sequences) decoder over a second input, Dense(3, softmax) per step; and a
//! Bidirectional(GRU(3), sum) over a masked pre-padded batch started from two Dense(3, tanh)
//! layers of a second input, Dense(1, sigmoid). On the CPU reference and the GPU, from the same
//! initial weights: predictions, the first batch's loss and gradients (through the states),
//! one `train_on_batch`, and `fit(epochs=2, shuffle=False)`.

mod common;

use common::golden::{devices, parity};
use wgfit::prelude::*;

fn bidirectional_encoder_decoder() -> Model {
    let source = Input::named([None, Some(3)], "source");
    let target = Input::named([None, Some(2)], "target");
    let encoded =
        Bidirectional::new(Lstm::new(4).return_state(true)).call(&Masking::new(0.0).call(&source));
    let [h_f, c_f, h_b, c_b] = [1, 2, 3, 4].map(|k| encoded.output(k).unwrap());
    let h = Concatenate::new().call_many(&[&h_f, &h_b]);
    let c = Concatenate::new().call_many(&[&c_f, &c_b]);
    let decoded = Lstm::new(8)
        .return_sequences(true)
        .call_many(&[&target, &h, &c]);
    let out = Dense::new(3).activation(Activation::Softmax).call(&decoded);
    Model::new(&[&source, &target], &out).unwrap()
}

fn bidirectional_gru_from_states() -> Model {
    let sequence = Input::named([None, Some(4)], "sequence");
    let state = Input::named([Some(2)], "state");
    let h_f = Dense::new(3).activation(Activation::Tanh).call(&state);
    let h_b = Dense::new(3).activation(Activation::Tanh).call(&state);
    let masked = Masking::new(0.0).call(&sequence);
    let both = Bidirectional::new(Gru::new(3))
        .merge_mode(MergeMode::Sum)
        .call_many(&[&masked, &h_f, &h_b]);
    let out = Dense::new(1).activation(Activation::Sigmoid).call(&both);
    Model::new(&[&sequence, &state], &out).unwrap()
}

#[test]
fn bidirectional_lstm_states_start_a_decoder_adam() {
    for device in devices() {
        parity(
            "bidirectional_states_lstm_adam_scce",
            &device,
            &mut bidirectional_encoder_decoder(),
        );
    }
}

#[test]
fn bidirectional_gru_from_initial_states_rmsprop() {
    for device in devices() {
        parity(
            "bidirectional_gru_initial_state_rmsprop_bce",
            &device,
            &mut bidirectional_gru_from_states(),
        );
    }
}
