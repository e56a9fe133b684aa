//! Keras parity: the same numbers as Keras 3 from the same initial weights and batches.
//!
//! `tests/golden/*.safetensors` + `.json` were written by Keras itself (`tools/keras_golden.py`,
//! versions in each JSON). For every case, on the CPU reference and on the GPU, from the same
//! initial weights: predictions, the first batch's loss and gradients, the weights after one
//! `train_on_batch`, and the history and weights after `fit(epochs=2, shuffle=False)`.

mod common;

use common::golden::{
    FIRST_LOSS, Golden, PREDICTIONS, TWO_EPOCHS, check, check_history, check_scalar, devices,
    parity, parity_err,
};
use ndarray::{ArrayD, IxDyn, s};
use wgfit::prelude::*;

fn sequential(layers: Sequential, input: &[Option<usize>]) -> Sequential {
    layers.input_shape(input.to_vec())
}

#[test]
fn mlp_adam_categorical_crossentropy() {
    for device in devices() {
        let mut model = Sequential::new()
            .add(Flatten::new().input_shape([6, 7]))
            .add(Dense::new(16).activation(Activation::Relu))
            .add(Dense::new(10).activation(Activation::Softmax));
        parity("mlp_adam_cce", &device, &mut model);
    }
}

#[test]
fn mlp_sgd_nesterov_mean_squared_error() {
    for device in devices() {
        let mut model = Sequential::new()
            .add(Dense::new(8).activation(Activation::Tanh).input_shape([5]))
            .add(Dense::new(2));
        parity("mlp_sgd_nesterov_mse", &device, &mut model);
    }
}

#[test]
fn embedding_lstm_adam_binary_crossentropy() {
    for device in devices() {
        let mut model = Sequential::new()
            .add(Embedding::new(10, 8).input_length(4))
            .add(Lstm::new(6))
            .add(Dense::new(1).activation(Activation::Sigmoid));
        parity("embedding_lstm_adam_bce", &device, &mut model);
    }
}

fn masked_lstm(features: usize, units: usize) -> Model {
    let inputs = Input::new([None, Some(features)]);
    let masked = Masking::new(0.0).call(&inputs);
    let outputs = Dense::new(1)
        .activation(Activation::Sigmoid)
        .call(&Lstm::new(units).call(&masked));
    Model::new(&inputs, &outputs).unwrap()
}

#[test]
fn masked_lstm_post_padded_adam() {
    for device in devices() {
        parity(
            "masked_lstm_post_adam_bce",
            &device,
            &mut masked_lstm(10, 5),
        );
    }
}

#[test]
fn masked_lstm_pre_padded_rmsprop() {
    for device in devices() {
        parity(
            "masked_lstm_pre_rmsprop_bce",
            &device,
            &mut masked_lstm(10, 5),
        );
    }
}

#[test]
fn embedding_mask_zero_sgd_momentum_sparse_categorical() {
    for device in devices() {
        let mut model = sequential(
            Sequential::new()
                .add(Embedding::new(12, 6).mask_zero(true))
                .add(Lstm::new(7))
                .add(Dense::new(4).activation(Activation::Softmax)),
            &[None],
        );
        parity("embedding_mask_zero_sgd_scce", &device, &mut model);
    }
}

#[test]
fn lstm_return_sequences_masked_sequence_loss_rmsprop() {
    for device in devices() {
        let inputs = Input::new([None, Some(3)]);
        let masked = Masking::new(0.0).call(&inputs);
        let seq = Lstm::new(6).return_sequences(true).call(&masked);
        let outputs = Dense::new(3).activation(Activation::Softmax).call(&seq);
        let mut model = Model::new(&inputs, &outputs).unwrap();
        parity("lstm_sequences_rmsprop_scce", &device, &mut model);
    }
}

#[test]
fn bucketed_batches_of_different_lengths_in_one_fit() {
    let g = Golden::load("bucketed_masked_lstm_adam_bce");
    let (x, y) = (g.tensor("x"), g.tensor("y"));
    let xs: Vec<ArrayD<f32>> = g
        .tensor("lengths")
        .iter()
        .enumerate()
        .map(|(i, &len)| x.slice(s![i, ..len as usize, ..]).to_owned().into_dyn())
        .collect();
    let ds = SequenceDataset::new(xs, y.clone())
        .unwrap()
        .batch_size(g.batch_size())
        .shuffle(false);
    let lengths: Vec<u64> = ds
        .batches(0)
        .iter()
        .map(|b| ds.padded_batch(b).0.shape()[1] as u64)
        .collect();
    let keras_lengths: Vec<u64> = g.info["batch_lengths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(lengths, keras_lengths, "the same batches as the Keras run");
    assert!(
        lengths.windows(2).any(|w| w[0] != w[1]),
        "batches of different lengths"
    );
    for device in devices() {
        let mut model = masked_lstm(4, 6);
        g.fresh(&mut model, &device);
        let history = model
            .fit_dataset(&ds, FitOptions::new().epochs(2).verbose(0))
            .unwrap();
        let on = format!("{} on {}", g.name, device.info());
        check_history(&on, &history, &g.history());
        g.check_weights(
            "after 2 epochs",
            &model.get_weights().unwrap(),
            "final",
            TWO_EPOCHS,
        );
    }
}

#[test]
fn parity_err_catches_a_wrong_value() {
    let want = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0, -2.0, 0.0]).unwrap();
    assert_eq!(parity_err(&want, &want), 0.0);
    let mut got = want.clone();
    got[1] = -2.001;
    assert!(parity_err(&got, &want) > 1e-4);
    got[1] = -2.0;
    got[2] = 1e-6; // near zero: held to 1e-2 of the largest magnitude (2e-2)
    assert!(parity_err(&got, &want) <= 1e-4);
    got[2] = 1e-5;
    assert!(parity_err(&got, &want) > 1e-4);
    got[2] = f32::NAN;
    assert_eq!(parity_err(&got, &want), f32::INFINITY);
}

/// A model trained in Keras, converted by `tools/keras_to_wgfit.py`, evaluated in wgfit.
#[test]
fn keras_trained_model_loads_and_evaluates_as_in_keras() {
    let g = Golden::load("keras_trained_digits");
    let weights = common::golden::dir().join(g.info["weights_file"].as_str().unwrap());
    let keras = &g.info["evaluate"];
    for device in devices() {
        let mut model = Sequential::new()
            .add(
                Dense::new(32)
                    .activation(Activation::Relu)
                    .input_shape([64]),
            )
            .add(Dense::new(10).activation(Activation::Softmax));
        model
            .compile(
                &device,
                Optimizer::adam(),
                Loss::SparseCategoricalCrossentropy,
                &[Metric::Accuracy],
            )
            .unwrap();
        model.load_weights(&weights).unwrap();
        let on = format!("keras_trained_digits on {}", device.info());
        let pred = model.predict(g.tensor("x")).unwrap();
        check(
            &format!("{on}: predictions"),
            &pred,
            g.tensor("pred"),
            PREDICTIONS,
        );
        let eval = model.evaluate(g.tensor("x"), g.tensor("y")).unwrap();
        let loss = keras["loss"].as_f64().unwrap() as f32;
        check_scalar(&format!("{on}: loss"), eval.loss, loss, FIRST_LOSS);
        let accuracy = keras["accuracy"].as_f64().unwrap() as f32;
        assert_eq!(eval.get("accuracy"), Some(accuracy), "{on}");
    }
}
