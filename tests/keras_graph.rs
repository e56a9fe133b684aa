//! Keras parity for graph models (`tests/golden/graph_*`, written by Keras itself): several
//! inputs, several outputs with weighted losses, a shared layer, fan-out into every merge
//! layer, masked merges, a concatenation along time, an Embedding in a branch. On the CPU and
//! the GPU, with the tolerances of `keras_parity.rs`; the weights' names and order must be
//! Keras's `model.get_weights()` (checked by `Golden::fresh`).

mod common;

use common::golden::{devices, parity, weighted_parity};
use wgfit::prelude::*;

fn dense(units: usize, act: Activation) -> Dense {
    Dense::new(units).activation(act)
}

#[test]
fn two_inputs_masked_lstm_branch_and_dense_branch_concatenated() {
    for device in devices() {
        let seq = Input::named([None, Some(3)], "seq");
        let stat = Input::named([Some(2)], "static");
        let h = Lstm::new(4).call(&Masking::new(0.0).call(&seq));
        let d = dense(3, Activation::Relu).call(&stat);
        let joined = Concatenate::new().call_many(&[&h, &d]);
        let out = dense(1, Activation::Sigmoid).call(&joined);
        let mut model = Model::new(&[&seq, &stat], &[&out]).unwrap();
        parity("graph_two_inputs_concat", &device, &mut model);
    }
}

#[test]
fn two_outputs_with_weighted_losses() {
    for device in devices() {
        let x = Input::named([Some(6)], "features");
        let h = dense(8, Activation::Tanh).call(&x);
        let cls = dense(3, Activation::Softmax).name("cls").call(&h);
        let reg = Dense::new(1).name("reg").call(&h);
        let mut model = Model::new(&x, &[&cls, &reg]).unwrap();
        parity("graph_two_outputs_weighted", &device, &mut model);
    }
}

#[test]
fn one_layer_applied_at_two_places_shares_its_weights() {
    for device in devices() {
        let (a, b) = (Input::named([Some(4)], "a"), Input::named([Some(4)], "b"));
        let shared = Shared::new(dense(3, Activation::Tanh));
        let diff = Subtract::new().call_many(&[&shared.call(&a), &shared.call(&b)]);
        let out = Dense::new(1).call(&diff);
        let mut model = Model::new(&[&a, &b], &[&out]).unwrap();
        parity("graph_shared_layer", &device, &mut model);
    }
}

#[test]
fn fan_out_into_every_merge_layer() {
    for device in devices() {
        let x = Input::named([Some(5)], "x");
        let h = dense(4, Activation::Tanh).call(&x);
        let a = dense(4, Activation::Tanh).call(&h);
        let b = dense(4, Activation::Tanh).call(&h);
        let merged = [
            Add::new().call_many(&[&a, &b]),
            Subtract::new().call_many(&[&a, &b]),
            Multiply::new().call_many(&[&a, &b]),
            Average::new().call_many(&[&a, &b, &h]),
            Maximum::new().call_many(&[&a, &b]),
            Minimum::new().call_many(&[&a, &b]),
        ];
        let refs: Vec<&Node> = merged.iter().collect();
        let joined = Concatenate::new().call_many(&refs);
        let out = dense(2, Activation::Softmax).call(&joined);
        let mut model = Model::new(&x, &out).unwrap();
        parity("graph_fan_out_merges", &device, &mut model);
    }
}

fn masked_sequences(features: usize) -> (Node, Node, Node, Node) {
    let p = Input::named([None, Some(features)], "p");
    let q = Input::named([None, Some(features)], "q");
    let mp = Masking::new(0.0).call(&p);
    let mq = Masking::new(0.0).call(&q);
    (p, q, mp, mq)
}

#[test]
fn masked_merges_combine_masks_and_skip_masked_values_as_keras() {
    for device in devices() {
        let (p, q, mp, mq) = masked_sequences(3);
        let hp = Lstm::new(4).return_sequences(true).call(&mp);
        let hq = Lstm::new(4).return_sequences(true).call(&mq);
        let merged = [
            Maximum::new().call_many(&[&hp, &hq]),
            Multiply::new().call_many(&[&hp, &hq]),
            Add::new().call_many(&[&hp, &hq]),
            Minimum::new().call_many(&[&hp, &hq]),
        ];
        let refs: Vec<&Node> = merged.iter().collect();
        let joined = Concatenate::new().call_many(&refs);
        let out = dense(1, Activation::Sigmoid).call(&Lstm::new(3).call(&joined));
        let mut model = Model::new(&[&p, &q], &[&out]).unwrap();
        parity("graph_masked_merges", &device, &mut model);
    }
}

#[test]
fn masked_sequences_concatenated_along_time() {
    for device in devices() {
        let (p, q, mp, mq) = masked_sequences(3);
        let joined = Concatenate::new().axis(1).call_many(&[&mp, &mq]);
        let out = Dense::new(1).call(&Lstm::new(3).call(&joined));
        let mut model = Model::new(&[&p, &q], &[&out]).unwrap();
        parity("graph_time_concat", &device, &mut model);
    }
}

#[test]
fn mask_computations_count_in_keras_layer_order() {
    for device in devices() {
        let p = Input::named([None, Some(2)], "p");
        let q = Input::named([None, Some(2)], "q");
        let mp = Masking::new(0.0).call(&p);
        let dq = dense(2, Activation::Tanh).call(&dense(2, Activation::Tanh).call(&q));
        let joined = Concatenate::new().axis(1).call_many(&[&mp, &dq]);
        let out = Dense::new(1).call(&Lstm::new(3).call(&joined));
        let mut model = Model::new(&[&p, &q], &[&out]).unwrap();
        parity("graph_mask_depth_order", &device, &mut model);
    }
}

#[test]
fn embedding_in_a_branch_behind_its_own_input() {
    for device in devices() {
        let tokens = Input::named([None], "tokens");
        let meta = Input::named([Some(3)], "meta");
        let h = Lstm::new(5).call(&Embedding::new(12, 4).mask_zero(true).call(&tokens));
        let m = dense(2, Activation::Relu).call(&meta);
        let joined = Concatenate::new().call_many(&[&h, &m]);
        let out = dense(1, Activation::Sigmoid).call(&joined);
        let mut model = Model::new(&[&tokens, &meta], &[&out]).unwrap();
        parity("graph_embedding_branch", &device, &mut model);
    }
}

#[test]
fn sample_weights_weigh_the_loss_as_keras() {
    for device in devices() {
        let x = Input::named([Some(5)], "features");
        let out = dense(3, Activation::Softmax).call(&dense(6, Activation::Tanh).call(&x));
        let mut model = Model::new(&x, &out).unwrap();
        weighted_parity("weighted_mlp_adam_scce", &device, &mut model);

        let x = Input::named([Some(4)], "features");
        let h = dense(5, Activation::Relu).call(&x);
        let p = dense(1, Activation::Sigmoid).name("p").call(&h);
        let r = Dense::new(2).name("r").call(&h);
        let mut model = Model::new(&x, &[&p, &r]).unwrap();
        weighted_parity("weighted_two_outputs_bce_mse", &device, &mut model);
    }
}
