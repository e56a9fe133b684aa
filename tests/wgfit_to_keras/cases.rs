//! The reference models of tests/wgfit_to_keras.rs: one per layer kind and graph feature (the
//! same list as the Keras -> wgfit converter's), compiled on the CPU, with inputs and targets.

use std::ops::DerefMut;

use ndarray::{Array2, ArrayD};
use rand::{Rng, rngs::StdRng};
use wgfit::prelude::*;

/// A compiled model, its inputs and its targets.
pub type Case = (
    Box<dyn DerefMut<Target = Model>>,
    Vec<ArrayD<f32>>,
    Vec<ArrayD<f32>>,
);

fn values(rng: &mut StdRng, shape: &[usize]) -> ArrayD<f32> {
    ArrayD::from_shape_fn(shape, |_| rng.random_range(-1.0f32..1.0))
}

fn one_hot(rng: &mut StdRng, n: usize, c: usize) -> ArrayD<f32> {
    let mut y = Array2::<f32>::zeros((n, c));
    for mut row in y.rows_mut() {
        row[rng.random_range(0..c)] = 1.0;
    }
    y.into_dyn()
}

/// `[n, t, f]` values whose row `b` is zero (masked) from step `t - b % 3` on: post-padded.
fn post_padded(rng: &mut StdRng, n: usize, t: usize, f: usize) -> ArrayD<f32> {
    let mut x = values(rng, &[n, t, f]);
    for b in 0..n {
        for s in t - b % 3..t {
            x.slice_mut(ndarray::s![b, s, ..]).fill(0.0);
        }
    }
    x
}

/// `[n, t]` token ids below `vocab`, 0 (masked with mask_zero) after a row's length.
fn post_padded_ids(rng: &mut StdRng, n: usize, t: usize, vocab: u32) -> ArrayD<f32> {
    ArrayD::from_shape_fn(vec![n, t], |i| {
        if i[1] > 1 + i[0] % (t - 1) {
            0.0
        } else {
            rng.random_range(1..vocab) as f32
        }
    })
}

fn seq(
    mut m: Sequential,
    opt: Optimizer,
    loss: Loss,
    metrics: &[Metric],
) -> Result<Box<dyn DerefMut<Target = Model>>> {
    m.compile(&Device::cpu(), opt, loss, metrics)?;
    Ok(Box::new(m))
}

fn lstm_masked_post_padded(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(1)
        .input_shape([None, Some(3)])
        .add(Masking::new(0.0))
        .add(Lstm::new(5))
        .add(Dense::new(3).activation(Activation::Softmax));
    let m = seq(
        m,
        Optimizer::adam().learning_rate(0.01),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok((m, vec![post_padded(rng, 9, 6, 3)], vec![one_hot(rng, 9, 3)]))
}

fn gru_reset_after_true_false(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(2)
        .input_shape([None, Some(3)])
        .add(Gru::new(4).return_sequences(true))
        .add(Gru::new(3).reset_after(false))
        .add(Dense::new(2));
    let m = seq(m, Optimizer::rmsprop(), Loss::MeanSquaredError, &[])?;
    Ok((m, vec![values(rng, &[7, 5, 3])], vec![values(rng, &[7, 2])]))
}

fn simple_rnn(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(3)
        .input_shape([None, Some(2)])
        .add(SimpleRnn::new(4).dropout(0.1))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    let m = seq(
        m,
        Optimizer::sgd().momentum(0.9),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let y = ArrayD::from_shape_fn(vec![8, 1], |i| (i[0] % 2) as f32);
    Ok((m, vec![values(rng, &[8, 4, 2])], vec![y]))
}

fn bidirectional_lstm_concat_gru_sum(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(4)
        .input_shape([None, Some(3)])
        .add(Masking::new(0.0))
        .add(Bidirectional::new(Lstm::new(3).return_sequences(true)))
        .add(Bidirectional::new(Gru::new(2)).merge_mode(MergeMode::Sum))
        .add(Dense::new(2));
    let m = seq(m, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    Ok((
        m,
        vec![post_padded(rng, 8, 5, 3)],
        vec![values(rng, &[8, 2])],
    ))
}

fn bidirectional_merges(rng: &mut StdRng) -> Result<Case> {
    let x = Input::new([None, Some(3)]);
    let both = Bidirectional::new(Gru::new(3).reset_after(false))
        .merge_mode(MergeMode::None)
        .call(&x);
    let ave = Bidirectional::new(SimpleRnn::new(2))
        .merge_mode(MergeMode::Ave)
        .call(&x);
    let mul = Bidirectional::new(Lstm::new(2))
        .merge_mode(MergeMode::Mul)
        .call(&x);
    let joined = Concatenate::new().call_many(&[&both.output(0)?, &both.output(1)?, &ave, &mul]);
    let mut m = Model::new(&x, &Dense::new(1).call(&joined))?.seed(5);
    m.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::MeanSquaredError,
        &[],
    )?;
    Ok((
        Box::new(Box::new(m)),
        vec![values(rng, &[6, 4, 3])],
        vec![values(rng, &[6, 1])],
    ))
}

fn stacked(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(6)
        .input_shape([None, Some(2)])
        .add(Lstm::new(4).return_sequences(true))
        .add(Gru::new(3).return_sequences(true))
        .add(SimpleRnn::new(3).return_sequences(true))
        .add(Dense::new(2).activation(Activation::Softmax));
    let m = seq(
        m,
        Optimizer::adam(),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let y = ArrayD::from_shape_fn(vec![5, 4, 2], |i| ((i[1] + i[2]) % 2) as f32);
    Ok((m, vec![values(rng, &[5, 4, 2])], vec![y]))
}

fn embedding_mask_zero(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(7)
        .add(Embedding::new(12, 4).mask_zero(true))
        .add(Lstm::new(5).dropout(0.2).recurrent_dropout(0.1).seed(3))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    let m = seq(
        m,
        Optimizer::adam(),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let y = ArrayD::from_shape_fn(vec![9, 1], |i| (i[0] % 2) as f32);
    Ok((m, vec![post_padded_ids(rng, 9, 7, 12)], vec![y]))
}

fn mlp_dropout(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(8)
        .add(Dense::new(6).activation(Activation::Relu).input_shape([5]))
        .add(Dropout::new(0.3).seed(2))
        .add(Dense::new(4).use_bias(false).activation(Activation::Tanh))
        .add(Dense::new(3).activation(Activation::Softmax));
    let m = seq(
        m,
        Optimizer::sgd()
            .learning_rate(0.05)
            .momentum(0.9)
            .nesterov(true),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let y = ArrayD::from_shape_fn(vec![11], |i| (i[0] % 3) as f32);
    Ok((m, vec![values(rng, &[11, 5])], vec![y]))
}

fn normalization(rng: &mut StdRng) -> Result<Case> {
    let x = values(rng, &[10, 4]).mapv(|v| 3.0 * v + 1.0);
    let mut norm = Normalization::new();
    norm.adapt(&x)?;
    let m = Sequential::new()
        .seed(9)
        .input_shape([Some(4)])
        .add(norm)
        .add(Dense::new(2));
    let m = seq(m, Optimizer::adam(), Loss::MeanSquaredError, &[])?;
    Ok((m, vec![x], vec![values(rng, &[10, 2])]))
}

fn spatial_dropout(rng: &mut StdRng) -> Result<Case> {
    let m = Sequential::new()
        .seed(10)
        .add(Embedding::new(9, 3))
        .add(SpatialDropout1D::new(0.2))
        .add(Gru::new(3))
        .add(Dense::new(2).activation(Activation::Softmax));
    let m = seq(
        m,
        Optimizer::adam(),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    let x = ArrayD::from_shape_fn(vec![6, 5], |_| rng.random_range(0..9) as f32);
    Ok((m, vec![x], vec![one_hot(rng, 6, 2)]))
}

fn two_inputs_merged(rng: &mut StdRng) -> Result<Case> {
    let xa = values(rng, &[12, 4]).mapv(|v| 2.0 * v - 1.0);
    let mut norm = Normalization::new();
    norm.adapt(&xa)?;
    let a = Input::named([Some(4)], "a");
    let b = Input::named([Some(2), Some(2)], "b");
    let shared = Shared::new(Dense::new(4).activation(Activation::Tanh));
    let (pa, pb) = (
        shared.call(&norm.call(&a)),
        shared.call(&Flatten::new().call(&b)),
    );
    let merged: Vec<Node> = vec![
        Add::new().call_many(&[&pa, &pb]),
        Subtract::new().call_many(&[&pa, &pb]),
        Multiply::new().call_many(&[&pa, &pb]),
        Average::new().call_many(&[&pa, &pb]),
        Maximum::new().call_many(&[&pa, &pb]),
        Minimum::new().call_many(&[&pa, &pb]),
    ];
    let h =
        Dropout::new(0.3).call(&Concatenate::new().call_many(&merged.iter().collect::<Vec<_>>()));
    let cls = Dense::new(3)
        .activation(Activation::Softmax)
        .name("cls")
        .call(&h);
    let reg = Dense::new(1).name("reg").call(&h);
    let mut m = Model::new(&[&a, &b], &[&cls, &reg])?.seed(11);
    m.compile_outputs(
        &Device::cpu(),
        Optimizer::sgd().learning_rate(0.05),
        &[
            OutputLoss::new("cls", Loss::CategoricalCrossentropy).metrics(&[Metric::Accuracy]),
            OutputLoss::new("reg", Loss::MeanSquaredError).weight(0.5),
        ],
    )?;
    let xb = values(rng, &[12, 2, 2]);
    let ys = vec![one_hot(rng, 12, 3), values(rng, &[12, 1])];
    Ok((Box::new(Box::new(m)), vec![xa, xb], ys))
}

fn encoder_decoder_states(rng: &mut StdRng) -> Result<Case> {
    let enc = Input::new([None, Some(3)]);
    let dec = Input::new([None, Some(2)]);
    let states = Lstm::new(4).return_state(true).call(&enc);
    let (h, c) = (states.output(1)?, states.output(2)?);
    let seq = Lstm::new(4)
        .return_sequences(true)
        .call_many(&[&dec, &h, &c]);
    let gru_states = Bidirectional::new(Gru::new(2).return_state(true)).call(&enc);
    let tail = Gru::new(2).call_many(&[&dec, &gru_states.output(1)?]);
    let out = Dense::new(2).activation(Activation::Softmax).call(&seq);
    // Both directions' states are read: with one left unread, training fails in wgfit
    // ("2 output gradients for 1 states per direction"), reported apart.
    let joined = Concatenate::new().call_many(&[&tail, &gru_states.output(2)?]);
    let side = Dense::new(1).name("side").call(&joined);
    let mut m = Model::new(&[&enc, &dec], &[&out, &side])?.seed(12);
    let head = |n: &str, loss| OutputLoss::new(n, loss);
    let first = m.output_names()[0].clone();
    m.compile_outputs(
        &Device::cpu(),
        Optimizer::adam(),
        &[
            head(&first, Loss::CategoricalCrossentropy).metrics(&[Metric::Accuracy]),
            head("side", Loss::MeanSquaredError),
        ],
    )?;
    let ys = vec![
        ArrayD::from_shape_fn(vec![6, 4, 2], |i| ((i[1] + i[2]) % 2) as f32),
        values(rng, &[6, 1]),
    ];
    Ok((
        Box::new(Box::new(m)),
        vec![values(rng, &[6, 5, 3]), values(rng, &[6, 4, 2])],
        ys,
    ))
}

pub type MakeCase = fn(&mut StdRng) -> Result<Case>;

pub const CASES: &[(&str, MakeCase)] = &[
    ("lstm_masked_post_padded", lstm_masked_post_padded),
    ("gru_reset_after_true_false", gru_reset_after_true_false),
    ("simple_rnn", simple_rnn),
    (
        "bidirectional_lstm_concat_gru_sum",
        bidirectional_lstm_concat_gru_sum,
    ),
    ("bidirectional_merges", bidirectional_merges),
    ("stacked", stacked),
    ("embedding_mask_zero", embedding_mask_zero),
    ("mlp_dropout", mlp_dropout),
    ("normalization", normalization),
    ("spatial_dropout", spatial_dropout),
    ("two_inputs_merged", two_inputs_merged),
    ("encoder_decoder_states", encoder_decoder_states),
];
