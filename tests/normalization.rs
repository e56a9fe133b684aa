//! Keras's Normalization: its kernels against their CPU twin on awkward sizes (poisoned
//! outputs, split grids); adapt's statistics; the layer in a model (masks pass, nothing
//! trains, its weights listed after the trainable ones of the layer, saved and loaded); errors.

mod common;

use common::{Tol, check_finite_differences, cross_check, random_input, rng, uniform};
use ndarray::{Array2, Array3, ArrayD, Axis, array};
use wgfit::ops::normalization::{normalization_backward, normalization_forward};
use wgfit::prelude::*;

/// A variance input: non-negative, with a zero (the epsilon floor) when there is room.
fn variances(rng: &mut rand::rngs::StdRng, c: usize) -> (Vec<usize>, Vec<f32>) {
    let mut v: Vec<f32> = uniform(rng, c, 0.0, 4.0);
    if c > 2 {
        v[1] = 0.0;
    }
    (vec![c], v)
}

#[test]
fn normalizing_matches_cpu_on_awkward_sizes() {
    let mut rng = rng("normalization");
    for (rows, c) in [(1, 1), (7, 1), (1, 13), (5, 3), (131, 257), (3, 23_339)] {
        let x = random_input(&mut rng, &[rows, c]);
        let mean = (vec![c], uniform(&mut rng, c, -1.0, 1.0));
        let var = variances(&mut rng, c);
        for invert in [false, true] {
            cross_check(
                &format!("normalization {rows}x{c} invert {invert}"),
                &[x.clone(), mean.clone(), var.clone()],
                Tol::RelScaled(1e-6),
                |t| {
                    Ok(vec![
                        normalization_forward(&t[0], &t[1], &t[2], invert)?,
                        normalization_backward(&t[0], &t[2], invert)?,
                    ])
                },
            );
        }
    }
}

#[test]
fn one_mean_and_variance_for_every_value() {
    let mut rng = rng("normalization scalar");
    let x = random_input(&mut rng, &[4, 9, 5]);
    let stats = [(vec![], vec![0.25f32]), (vec![], vec![2.0f32])];
    cross_check(
        "normalization scalar",
        &[x.clone(), stats[0].clone(), stats[1].clone()],
        Tol::RelScaled(1e-6),
        |t| Ok(vec![normalization_forward(&t[0], &t[1], &t[2], false)?]),
    );
    let device = Device::cpu();
    let t =
        |(d, v): &(Vec<usize>, Vec<f32>)| Tensor::from_vec(&device, d.clone(), v.clone()).unwrap();
    let y = normalization_forward(&t(&x), &t(&stats[0]), &t(&stats[1]), false).unwrap();
    let want: Vec<f32> = x.1.iter().map(|v| (v - 0.25) / 2f32.sqrt()).collect();
    assert_eq!(y.to_vec_blocking().unwrap(), want);
}

#[test]
fn the_cpu_twin_divides_by_the_standard_deviation_or_epsilon() {
    let device = Device::cpu();
    let x = Tensor::from_vec(&device, [2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let mean = Tensor::from_vec(&device, [2], vec![1.0, 1.0]).unwrap();
    let var = Tensor::from_vec(&device, [2], vec![4.0, 0.0]).unwrap();
    let y = normalization_forward(&x, &mean, &var, false).unwrap();
    assert_eq!(y.to_vec_blocking().unwrap(), vec![0.0, 1e7, 1.0, 3e7]);
    let inv = normalization_forward(&x, &mean, &var, true).unwrap();
    assert_eq!(
        inv.to_vec_blocking().unwrap(),
        vec![3.0, 1.0 + 2e-7, 7.0, 1.0 + 4e-7]
    );
    let wrong = Tensor::from_vec(&device, [3], vec![1.0; 3]).unwrap();
    assert!(matches!(
        normalization_forward(&x, &wrong, &var, false),
        Err(Error::Shape(_))
    ));
}

/// Sequences of lengths 1..=9 with 3 features of different scales.
fn ragged(seed: &str) -> Vec<Array2<f32>> {
    let mut rng = rng(seed);
    (0..12)
        .map(|i| {
            let t = 1 + (i * 5) % 9;
            let v = uniform(&mut rng, t * 3, -1.0, 1.0);
            let mut a = Array2::from_shape_vec((t, 3), v).unwrap();
            a.column_mut(1).mapv_inplace(|v| 10.0 * v + 5.0);
            a.column_mut(2).mapv_inplace(|v| 0.01 * v - 2.0);
            a
        })
        .collect()
}

#[test]
fn adapt_sequences_learns_the_statistics_of_the_real_steps_only() {
    let seqs = ragged("normalization adapt");
    let mut norm = Normalization::new();
    norm.adapt_sequences(&seqs).unwrap();
    let all: Vec<f64> = seqs
        .iter()
        .flat_map(|s| s.iter().map(|&v| f64::from(v)))
        .collect();
    for f in 0..3 {
        let col: Vec<f64> = all.iter().skip(f).step_by(3).copied().collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!((f64::from(norm.mean().unwrap()[f]) - mean).abs() <= 1e-6 * mean.abs().max(1.0));
        assert!((f64::from(norm.variance().unwrap()[f]) - var).abs() <= 1e-6 * var);
    }
    // Padding the same sequences and adapting on the array counts the padding: other numbers.
    let refs: Vec<_> = seqs.iter().map(|s| s.view()).collect();
    let padded = pad_feature_sequences(&refs, PadOptions::new().padding(Padding::Post)).unwrap();
    let mut with_padding = Normalization::new();
    with_padding.adapt(&padded).unwrap();
    assert_ne!(with_padding.mean(), norm.mean());
    // axis(None): one mean over every value.
    let mut one = Normalization::new().axis(None);
    one.adapt_sequences(&seqs).unwrap();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    assert_eq!(one.mean().unwrap().len(), 1);
    assert!((f64::from(one.mean().unwrap()[0]) - mean).abs() < 1e-5);
}

/// Masking -> Normalization -> LSTM -> Dense over post-padded sequences.
fn masked_model(norm: Normalization, device: &Device) -> Sequential {
    let mut model = Sequential::new()
        .seed(3)
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(norm)
        .add(Lstm::new(4))
        .add(Dense::new(1));
    model
        .compile(device, Optimizer::adam(), Loss::MeanSquaredError, &[])
        .unwrap();
    model
}

fn devices() -> Vec<Device> {
    [Some(Device::cpu()), common::gpu()]
        .into_iter()
        .flatten()
        .collect()
}

#[test]
fn in_a_model_masks_pass_through_and_nothing_trains() {
    let seqs = ragged("normalization model");
    let refs: Vec<_> = seqs.iter().map(|s| s.view()).collect();
    let x = pad_feature_sequences(&refs, PadOptions::new().padding(Padding::Post)).unwrap();
    let y = Array2::from_shape_fn((seqs.len(), 1), |(i, _)| (i % 3) as f32);
    for device in devices() {
        let mut norm = Normalization::new();
        norm.adapt_sequences(&seqs).unwrap();
        let mut model = masked_model(norm, &device);
        let names: Vec<String> = model
            .get_weights()
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names[..3],
            [
                "layers.1.normalization.mean",
                "layers.1.normalization.variance",
                "layers.1.normalization.count"
            ]
        );
        let before = model.get_weights().unwrap();
        // Masked steps are skipped: a sample's prediction is the same alone, unpadded.
        let pred = model.predict(&x).unwrap();
        let alone = seqs[0].clone().insert_axis(Axis(0));
        let one = model.predict(&alone).unwrap();
        assert!(
            (one[[0, 0]] - pred[[0, 0]]).abs() < 1e-5,
            "{}",
            device.info()
        );
        check_finite_differences(&mut model, &x, &y, "normalization before an LSTM");
        model
            .fit(&x, &y, FitOptions::new().epochs(2).batch_size(5).verbose(0))
            .unwrap();
        let after = model.get_weights().unwrap();
        for ((n, b), (_, a)) in before.iter().zip(&after) {
            if n.contains("normalization") {
                assert_eq!(a, b, "{n} changed in training");
            } else if n.contains("kernel") {
                assert_ne!(a, b, "{n} did not train");
            }
        }
    }
}

#[test]
fn a_trainable_layer_before_it_gets_gradients_through_it() {
    let mut rng = rng("normalization grads");
    let x = Array2::from_shape_vec((6, 3), uniform(&mut rng, 18, -1.0, 1.0)).unwrap();
    let y = Array2::from_shape_vec((6, 2), uniform(&mut rng, 12, -1.0, 1.0)).unwrap();
    for device in devices() {
        for invert in [false, true] {
            let norm = Normalization::new()
                .mean_variance(vec![0.5, -0.25], vec![4.0, 0.09])
                .invert(invert);
            let mut model = Sequential::new()
                .seed(1)
                .add(Dense::new(2).input_shape([3]))
                .add(norm);
            model
                .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
                .unwrap();
            check_finite_differences(
                &mut model,
                &x,
                &y,
                &format!("dense -> normalization invert {invert}"),
            );
        }
    }
}

#[test]
fn its_statistics_are_saved_loaded_and_set_with_the_weights() {
    let path = std::env::temp_dir().join(format!("wgfit-norm-{}.safetensors", std::process::id()));
    let x: Array3<f32> = Array3::from_shape_fn((2, 4, 2), |(b, t, f)| (b + t * 2 + f) as f32);
    let mut adapted = Normalization::new();
    adapted.adapt(&x).unwrap();
    let mut a = Sequential::new().add(adapted.input_shape([None, Some(2)]));
    a.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::MeanSquaredError,
        &[],
    )
    .unwrap();
    a.save_weights(&path).unwrap();
    let mut b = Sequential::new().add(Normalization::new().input_shape([None, Some(2)]));
    b.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::MeanSquaredError,
        &[],
    )
    .unwrap();
    assert_eq!(b.predict(&x).unwrap(), x.clone().into_dyn()); // not adapted: the identity
    b.load_weights(&path).unwrap();
    assert_eq!(b.predict(&x).unwrap(), a.predict(&x).unwrap());
    std::fs::remove_file(&path).unwrap();
    // set_weights takes Keras's list: mean, variance, count.
    let w: Vec<ArrayD<f32>> = vec![
        array![1.0f32, 2.0].into_dyn(),
        array![4.0f32, 4.0].into_dyn(),
        ndarray::arr0(0.0f32).into_dyn(),
    ];
    b.set_weights(&w).unwrap();
    let y = b.predict(&x).unwrap();
    assert_eq!(y[[0, 0, 0]], (0.0 - 1.0) / 2.0);
    assert_eq!(b.count_params(), 5);
}

#[test]
fn bad_data_and_shapes_are_errors_naming_what_is_wrong() {
    let mut norm = Normalization::new();
    let empty = Array2::<f32>::zeros((0, 3));
    assert!(matches!(norm.adapt(&empty), Err(Error::Empty { .. })));
    let nan = array![[1.0f32, f32::NAN]];
    assert!(matches!(norm.adapt(&nan), Err(Error::Data(m)) if m.contains("NaN")));
    let ragged = [array![[1.0f32, 2.0]], array![[1.0f32, 2.0, 3.0]]];
    assert!(
        matches!(norm.adapt_sequences(&ragged), Err(Error::Data(m)) if m.contains("sequence 1"))
    );
    // Adapted on 2 features, built for 3.
    norm.adapt(&array![[1.0f32, 2.0], [3.0, 4.0]]).unwrap();
    let mut model = Sequential::new().add(norm.input_shape([Some(3)]));
    let err = model
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("2 mean") && m.contains("3 features")),
        "{err}"
    );
    let mut axis = Sequential::new().add(
        Normalization::new()
            .axis(Some(1))
            .input_shape([None, Some(3)]),
    );
    let err = axis
        .compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("axis 1")),
        "{err}"
    );
}
