//! Keras parity for models with Dropout and SpatialDropout1D, on the CPU reference and the GPU.
//!
//! Keras's random stream cannot be matched, so `tools/keras_golden.py` (`dropout_cases`)
//! records each case's training numbers with the model at rate 0 (the identity in training,
//! in Keras as in wgfit), checked here as every other case; and `predict` and `evaluate` at the
//! case's real rate (JSON `inference`), where both are inference and must equal Keras's.
//! Dropout while training is checked by tests/ops_dropout.rs and tests/dropout*.rs.

mod common;

use common::golden::{FIRST_LOSS, Golden, PREDICTIONS, check, check_scalar, devices, parity};
use wgfit::prelude::*;

fn mlp(rate: f32) -> Sequential {
    Sequential::new()
        .add(Dense::new(12).activation(Activation::Tanh).input_shape([6]))
        .add(Dropout::new(rate))
        .add(Dense::new(4).activation(Activation::Softmax))
}

fn embedding_lstm(rate: f32) -> Sequential {
    Sequential::new()
        .input_shape([None])
        .add(Embedding::new(12, 6).mask_zero(true))
        .add(SpatialDropout1D::new(rate))
        .add(Lstm::new(5))
        .add(Dropout::new(rate))
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

/// The case's rate (JSON `inference.rate`).
fn rate(name: &str) -> f32 {
    Golden::load(name).info["inference"]["rate"]
        .as_f64()
        .unwrap() as f32
}

/// `predict` and `evaluate` at the case's rate, from its initial weights, against Keras's.
fn inference(name: &str, device: &Device, model: &mut Sequential) {
    let g = Golden::load(name);
    let keras = &g.info["inference"]["evaluate"];
    let on = format!("{name} at rate {} on {}", rate(name), device.info());
    g.fresh(model, device);
    let pred = model.predict(g.tensor("x")).unwrap();
    check(
        &format!("{on}: predictions"),
        &pred,
        g.tensor("pred"),
        PREDICTIONS,
    );
    let eval = model.evaluate(g.tensor("x"), g.tensor("y")).unwrap();
    let loss = keras["loss"].as_f64().unwrap() as f32;
    check_scalar(&format!("{on}: evaluate loss"), eval.loss, loss, FIRST_LOSS);
    let accuracy = keras["accuracy"].as_f64().unwrap() as f32;
    assert_eq!(eval.get("accuracy"), Some(accuracy), "{on}");
}

#[test]
fn dense_dropout_model_trains_as_keras_at_rate_zero() {
    for device in devices() {
        parity("dropout_mlp_adam_cce", &device, &mut mlp(0.0));
    }
}

#[test]
fn dense_dropout_model_predicts_and_evaluates_as_keras_at_its_rate() {
    let rate = rate("dropout_mlp_adam_cce");
    assert!(rate > 0.0);
    for device in devices() {
        inference("dropout_mlp_adam_cce", &device, &mut mlp(rate));
    }
}

#[test]
fn masked_lstm_after_spatial_dropout_trains_as_keras_at_rate_zero() {
    for device in devices() {
        parity(
            "spatial_dropout_lstm_sgd_bce",
            &device,
            &mut embedding_lstm(0.0),
        );
    }
}

#[test]
fn masked_lstm_after_spatial_dropout_predicts_and_evaluates_as_keras_at_its_rate() {
    let rate = rate("spatial_dropout_lstm_sgd_bce");
    assert!(rate > 0.0);
    for device in devices() {
        inference(
            "spatial_dropout_lstm_sgd_bce",
            &device,
            &mut embedding_lstm(rate),
        );
    }
}
