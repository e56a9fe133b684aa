//! Keras parity of the encoder-decoder (seq2seq) pattern (`tools/keras_golden.py`'s
//! `state_cases`): Masking -> LSTM(5, return_state) encoding a post-padded source, its h and c
//! the initial state of an LSTM(5, return_sequences) over a second input, Dense(3, softmax)
//! per step under sparse categorical crossentropy; the same with GRUs (h alone). On the CPU
//! reference and the GPU, from the same initial weights: predictions, the first batch's loss
//! and gradients (through the initial states into the encoder), one `train_on_batch`, and
//! `fit(epochs=2, shuffle=False)`.

mod common;

use common::golden::{devices, parity};
use wgfit::prelude::*;

fn lstm_seq2seq() -> Model {
    let source = Input::named([None, Some(3)], "source");
    let target = Input::named([None, Some(2)], "target");
    let encoded = Lstm::new(5)
        .return_state(true)
        .call(&Masking::new(0.0).call(&source));
    let (h, c) = (encoded.output(1).unwrap(), encoded.output(2).unwrap());
    let decoded = Lstm::new(5)
        .return_sequences(true)
        .call_many(&[&target, &h, &c]);
    let out = Dense::new(3).activation(Activation::Softmax).call(&decoded);
    Model::new(&[&source, &target], &out).unwrap()
}

fn gru_seq2seq() -> Model {
    let source = Input::named([None, Some(3)], "source");
    let target = Input::named([None, Some(2)], "target");
    let encoded = Gru::new(5)
        .return_state(true)
        .call(&Masking::new(0.0).call(&source));
    let h = encoded.output(1).unwrap();
    let decoded = Gru::new(5).return_sequences(true).call_many(&[&target, &h]);
    let out = Dense::new(3).activation(Activation::Softmax).call(&decoded);
    Model::new(&[&source, &target], &out).unwrap()
}

#[test]
fn lstm_encoder_decoder_adam() {
    for device in devices() {
        parity("seq2seq_lstm_adam_scce", &device, &mut lstm_seq2seq());
    }
}

#[test]
fn gru_encoder_decoder_rmsprop() {
    for device in devices() {
        parity("seq2seq_gru_rmsprop_scce", &device, &mut gru_seq2seq());
    }
}
