//! Sequences end to end: padding and masking leave LSTM outputs unchanged, LSTM gradients
//! match finite differences with masks, the GPU trains like the CPU, bucketed batches train
//! like globally padded ones, and bad sequence input is a typed error.

mod common;

use common::{check_finite_differences, gpu};
use ndarray::{Array1, Array2, Array3, ArrayD, Axis, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::data::pad_feature_sequences;
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    std::iter::once(Device::cpu()).chain(gpu()).collect()
}

fn sequences(
    n: usize,
    features: usize,
    lengths: std::ops::Range<usize>,
    seed: u64,
) -> Vec<Array2<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let t = rng.random_range(lengths.clone());
            // Features away from 0 so no real step looks like padding.
            Array2::from_shape_fn((t, features), |_| {
                rng.random_range(0.1..1.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 }
            })
        })
        .collect()
}

fn masked_lstm(
    device: &Device,
    features: usize,
    units: usize,
    out: usize,
    out_act: Activation,
    loss: Loss,
) -> Model {
    let inputs = Input::new([None, Some(features)]);
    let x = Lstm::new(units).call(&Masking::new(0.0).call(&inputs));
    let outputs = Dense::new(out).activation(out_act).call(&x);
    let mut model = Model::new(&inputs, &outputs).unwrap();
    model
        .compile(device, Optimizer::adam().learning_rate(0.01), loss, &[])
        .unwrap();
    model
}

fn pad(seqs: &[Array2<f32>], maxlen: usize, padding: Padding) -> Array3<f32> {
    let views: Vec<_> = seqs.iter().map(|s| s.view()).collect();
    pad_feature_sequences(&views, PadOptions::new().maxlen(maxlen).padding(padding)).unwrap()
}

#[test]
fn padded_sequences_give_the_lstm_output_of_the_unpadded_sequence() {
    for device in devices() {
        let seqs = sequences(3, 4, 3..9, 1);
        let mut model = masked_lstm(&device, 4, 6, 3, Activation::Linear, Loss::MeanSquaredError);
        for s in &seqs {
            let alone = model.predict(&s.view().insert_axis(Axis(0))).unwrap();
            for padding in [Padding::Post, Padding::Pre] {
                let padded = model
                    .predict(&pad(std::slice::from_ref(s), s.nrows() + 4, padding))
                    .unwrap();
                let diff = (&alone - &padded)
                    .iter()
                    .fold(0.0f32, |m, d| m.max(d.abs()));
                assert!(
                    diff <= 1e-6,
                    "{padding:?} padding changed the output by {diff} on {}",
                    device.info()
                );
            }
        }
    }
}

#[test]
fn an_all_masked_sequence_gives_the_initial_state_not_nan() {
    for device in devices() {
        let mut model = masked_lstm(&device, 3, 4, 2, Activation::Linear, Loss::MeanSquaredError);
        let out = model.predict(&Array3::<f32>::zeros((2, 5, 3))).unwrap();
        // h stays 0, so the output is the Dense bias (zeros before training).
        assert!(
            out.iter().all(|&v| v == 0.0),
            "{out:?} on {}",
            device.info()
        );
    }
}

#[test]
fn lstm_gradients_match_finite_differences_with_masks() {
    let device = Device::cpu();
    let seqs = sequences(4, 3, 2..6, 2);
    let mut rng = StdRng::seed_from_u64(3);
    let mut x = pad(&seqs[..2], 6, Padding::Post);
    x.append(Axis(0), pad(&seqs[2..], 6, Padding::Pre).view())
        .unwrap();
    let labels = Array1::from_shape_fn(4, |_| rng.random_range(0..2) as f32);
    let y = to_categorical(&labels, 2).unwrap().into_dyn();
    let mut model = masked_lstm(
        &device,
        3,
        3,
        2,
        Activation::Softmax,
        Loss::CategoricalCrossentropy,
    );
    check_finite_differences(
        &mut model,
        &x.clone().into_dyn(),
        &y,
        "Masking -> LSTM -> Dense softmax",
    );

    // A sequence-returning LSTM feeding another: the per-step gradient path and the mask
    // passed on by return_sequences.
    let inputs = Input::new([None, Some(3)]);
    let h = Lstm::new(3)
        .return_sequences(true)
        .call(&Masking::new(0.0).call(&inputs));
    let outputs = Dense::new(1)
        .activation(Activation::Sigmoid)
        .call(&Lstm::new(2).call(&h));
    let mut stacked = Model::new(&inputs, &outputs).unwrap();
    stacked
        .compile(&device, Optimizer::sgd(), Loss::BinaryCrossentropy, &[])
        .unwrap();
    check_finite_differences(
        &mut stacked,
        &x.clone().into_dyn(),
        &labels.clone().into_dyn(),
        "stacked LSTMs",
    );
}

#[test]
fn gpu_trains_masked_lstms_and_embeddings_like_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let seqs = sequences(12, 5, 3..11, 4);
    let labels = Array1::from_shape_fn(12, |i| (i % 2) as f32);
    let run = |device: &Device| {
        let mut model = masked_lstm(
            device,
            5,
            7,
            1,
            Activation::Sigmoid,
            Loss::BinaryCrossentropy,
        );
        let losses: Vec<f32> = (0..20)
            .map(|step| {
                let idx: Vec<usize> = (0..4).map(|k| (step * 4 + k) % 12).collect();
                let batch: Vec<Array2<f32>> = idx.iter().map(|&i| seqs[i].clone()).collect();
                let maxlen = batch.iter().map(|s| s.nrows()).max().unwrap();
                let padding = if step % 2 == 0 {
                    Padding::Post
                } else {
                    Padding::Pre
                };
                model
                    .train_on_batch(&pad(&batch, maxlen, padding), &labels.select(Axis(0), &idx))
                    .unwrap()
            })
            .collect();
        (losses, model.get_weights().unwrap())
    };
    compare(run(&Device::cpu()), run(&gpu), "masked LSTM");

    let tokens: Vec<Vec<f32>> = (0..8)
        .map(|i| {
            (0..(3 + i % 4))
                .map(|t| ((i * 7 + t * 3) % 9 + 1) as f32)
                .collect()
        })
        .collect();
    let x = pad_sequences(&tokens, PadOptions::new()).unwrap();
    let y = Array1::from_shape_fn(8, |i| (i % 3) as f32);
    let run = |device: &Device| {
        let mut model = Sequential::new()
            .add(Embedding::new(10, 4).mask_zero(true))
            .add(Lstm::new(6))
            .add(Dense::new(3).activation(Activation::Softmax));
        model
            .compile(
                device,
                Optimizer::rmsprop(),
                Loss::SparseCategoricalCrossentropy,
                &[Metric::Accuracy],
            )
            .unwrap();
        let losses = (0..20)
            .map(|_| model.train_on_batch(&x, &y).unwrap())
            .collect();
        (losses, model.get_weights().unwrap())
    };
    compare(
        run(&Device::cpu()),
        run(&gpu),
        "Embedding(mask_zero) -> LSTM",
    );
}

type Run = (Vec<f32>, Vec<(String, ArrayD<f32>)>);

fn compare((cpu_losses, cpu_w): Run, (gpu_losses, gpu_w): Run, case: &str) {
    for (s, (g, c)) in gpu_losses.iter().zip(&cpu_losses).enumerate() {
        assert!(
            (g - c).abs() <= 1e-4 * c.abs(),
            "{case}: step {s} loss {g} on the GPU, {c} on the CPU"
        );
    }
    assert!(
        cpu_losses[19] < cpu_losses[0],
        "{case}: training did not lower the loss"
    );
    for ((name, g), (_, c)) in gpu_w.iter().zip(&cpu_w) {
        let diff = (g - c).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(diff <= 1e-4, "{case}: {name} differs by {diff}");
    }
}

#[test]
fn bucketed_batches_train_exactly_like_globally_padded_ones() {
    let device = Device::cpu();
    let seqs = sequences(20, 4, 3..15, 5);
    let labels = Array1::from_shape_fn(20, |i| (i % 2) as f32);
    let ds = SequenceDataset::from_sequences(&seqs, labels.clone().into_dyn())
        .unwrap()
        .batch_size(4);
    let global = seqs.iter().map(|s| s.nrows()).max().unwrap();
    assert!(
        ds.batches(0)
            .iter()
            .any(|b| b.iter().map(|&i| seqs[i].nrows()).max().unwrap() < global),
        "some batch must be shorter"
    );

    let mut bucketed = masked_lstm(
        &device,
        4,
        5,
        1,
        Activation::Sigmoid,
        Loss::BinaryCrossentropy,
    );
    bucketed
        .fit_dataset(&ds, FitOptions::new().epochs(2).verbose(0))
        .unwrap();

    let mut padded = masked_lstm(
        &device,
        4,
        5,
        1,
        Activation::Sigmoid,
        Loss::BinaryCrossentropy,
    );
    for epoch in 0..2 {
        for idx in ds.batches(epoch) {
            let batch: Vec<Array2<f32>> = idx.iter().map(|&i| seqs[i].clone()).collect();
            padded
                .train_on_batch(
                    &pad(&batch, global, Padding::Post),
                    &labels.select(Axis(0), &idx),
                )
                .unwrap();
        }
    }
    for ((name, a), (_, b)) in bucketed
        .get_weights()
        .unwrap()
        .iter()
        .zip(padded.get_weights().unwrap().iter())
    {
        let diff = (a - b).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(diff <= 1e-6, "{name} differs by {diff}");
    }
    // And the same per-sample predictions (hence losses), bucketed or padded to the maximum.
    let by_dataset = bucketed.predict_dataset(&ds).unwrap();
    let by_array = bucketed
        .predict(&pad(&seqs, global, Padding::Post))
        .unwrap();
    let diff = (&by_dataset - &by_array)
        .iter()
        .fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(diff <= 1e-6, "predictions differ by {diff}");
    assert_eq!(by_dataset.slice(s![.., 0]).len(), 20);
}

#[test]
fn bad_sequence_input_is_a_typed_error_naming_batch_and_sample() {
    let device = Device::cpu();
    let mut model = masked_lstm(
        &device,
        10,
        4,
        1,
        Activation::Sigmoid,
        Loss::BinaryCrossentropy,
    );
    let nine = sequences(3, 9, 2..5, 6);
    let ds = SequenceDataset::from_sequences(&nine, Array1::zeros(3).into_dyn()).unwrap();
    match model.fit_dataset(&ds, FitOptions::new().verbose(0)) {
        Err(Error::Shape(e)) => {
            assert_eq!(e.batch, Some(0));
            assert_eq!(e.expected, vec![None, None, Some(10)]);
            assert_eq!(e.actual[2], 9);
        }
        r => panic!("wrong feature count: {r:?}"),
    }

    let mut embed = Sequential::new()
        .add(Embedding::new(10, 4))
        .add(Lstm::new(3))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    embed
        .compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
        .unwrap();
    let x = ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 12.0, 5.0]]);
    match embed.fit(&x, &Array1::<f32>::zeros(2), FitOptions::new().verbose(0)) {
        Err(
            e @ Error::Token {
                batch: None,
                sample: 1,
                step: 1,
                id: 12.0,
                vocab: 10,
            },
        ) => {
            // All of x is checked before the first step: the sample is its index in x.
            assert!(
                e.to_string().starts_with("sample 1, step 1: token id 12"),
                "{e}"
            );
        }
        r => panic!("token id past the vocabulary: {r:?}"),
    }

    let xs = vec![
        Array2::<f32>::ones((3, 10)).into_dyn(),
        Array2::<f32>::ones((0, 10)).into_dyn(),
    ];
    match SequenceDataset::new(xs, Array1::<f32>::zeros(2).into_dyn()) {
        Err(Error::Empty {
            sample: Some(1), ..
        }) => {}
        r => panic!("empty sequence: {r:?}"),
    }
}

/// LSTM(return_sequences) -> Dense(2, softmax) over masked sequences: a loss over the steps.
fn sequence_tagger(device: &Device) -> Model {
    let inputs = Input::new([None, Some(3)]);
    let h = Lstm::new(4)
        .return_sequences(true)
        .call(&Masking::new(0.0).call(&inputs));
    let outputs = Dense::new(2).activation(Activation::Softmax).call(&h);
    let mut model = Model::new(&inputs, &outputs).unwrap();
    model
        .compile(
            device,
            Optimizer::adam().learning_rate(0.02),
            Loss::SparseCategoricalCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

fn tagged_batch() -> (Array3<f32>, ArrayD<f32>) {
    let seqs = sequences(4, 3, 2..7, 9);
    let x = pad(&seqs, 7, Padding::Post);
    let y = ndarray::Array2::from_shape_fn((4, 7), |(b, t)| ((b + t) % 2) as f32);
    (x, y.into_dyn())
}

#[test]
fn a_masked_sequence_loss_averages_over_the_unmasked_steps_only() {
    let (x, y) = tagged_batch();
    for device in devices() {
        let mut model = sequence_tagger(&device);
        let p = model.predict(&x).unwrap();
        let (mut sum, mut hits, mut count) = (0.0f64, 0.0f64, 0.0f64);
        for b in 0..4 {
            for t in 0..7 {
                if x.slice(s![b, t, ..]).iter().all(|&v| v == 0.0) {
                    continue;
                }
                let label = y[[b, t]] as usize;
                sum -= f64::from(p[[b, t, label]]).ln();
                hits += f64::from(u8::from((p[[b, t, 1]] > p[[b, t, 0]]) == (label == 1)));
                count += 1.0;
            }
        }
        let e = model.evaluate(&x, &y).unwrap();
        assert!(
            (f64::from(e.loss) - sum / count).abs() <= 1e-5 * sum / count,
            "loss {} vs {} on {}",
            e.loss,
            sum / count,
            device.info()
        );
        assert!(
            (f64::from(e.get("accuracy").unwrap()) - hits / count).abs() <= 1e-6,
            "accuracy on {}",
            device.info()
        );
    }
}

#[test]
fn masked_sequence_loss_gradients_match_finite_differences_and_the_gpu() {
    let (x, y) = tagged_batch();
    let mut model = sequence_tagger(&Device::cpu());
    check_finite_differences(
        &mut model,
        &x.clone().into_dyn(),
        &y,
        "masked sequence loss",
    );
    let Some(gpu) = gpu() else { return };
    let run = |device: &Device| {
        let mut m = sequence_tagger(device);
        let losses: Vec<f32> = (0..20).map(|_| m.train_on_batch(&x, &y).unwrap()).collect();
        (losses, m.get_weights().unwrap())
    };
    compare(run(&Device::cpu()), run(&gpu), "masked sequence loss");
}

#[test]
fn a_dense_first_model_built_from_data_accepts_other_leading_dims() {
    // Dense acts on the last axis, so a model built from [N, 5, 3] data takes [N, 9, 3] too.
    let mut model = Sequential::new().add(Dense::new(2));
    model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
    let y5 = model.predict(&Array3::<f32>::ones((2, 5, 3))).unwrap();
    let y9 = model.predict(&Array3::<f32>::ones((2, 9, 3))).unwrap();
    assert_eq!(y5.shape(), &[2, 5, 2]);
    assert_eq!(y9.shape(), &[2, 9, 2]);
    assert_eq!(y5[[1, 4, 1]], y9[[0, 8, 1]]);
    assert!(
        model.predict(&Array3::<f32>::ones((2, 5, 4))).is_err(),
        "the feature count stays fixed"
    );
}
