//! `Bidirectional(layer)` in training, on the CPU and the GPU: gradients against finite
//! differences in every merge mode and the GPU's against the CPU's, `MergeMode::None`'s two
//! outputs trained in a functional model, weights saved and loaded by name, and the
//! dispatches a step costs.

mod common;

use common::padded::padded;
use common::{check_finite_differences, gpu};
use ndarray::{Array1, Array3, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    [Some(Device::cpu()), gpu()].into_iter().flatten().collect()
}
#[test]
fn gradients_match_finite_differences_in_every_merge_mode() {
    let mut rng = StdRng::seed_from_u64(14);
    let lengths = [3, 1, 4];
    for (merge, sequences) in [
        (MergeMode::Concat, false),
        (MergeMode::Concat, true),
        (MergeMode::Sum, true),
        (MergeMode::Mul, false),
        (MergeMode::Ave, true),
        (MergeMode::None, false),
    ] {
        let post = sequences && merge != MergeMode::Sum;
        let x = padded(&mut rng, &lengths, 2, post);
        let input = Input::new([None, Some(2)]);
        let y = Bidirectional::new(Lstm::new(2).return_sequences(sequences))
            .merge_mode(merge)
            .call(&Masking::new(0.0).call(&input));
        let head = match merge {
            // Both outputs side by side (the backward one reached through output 1).
            MergeMode::None => {
                Concatenate::new().call_many(&[&y.output(0).unwrap(), &y.output(1).unwrap()])
            }
            _ => y,
        };
        let out = Dense::new(1).call(&head);
        let mut model = Model::new(&input, &out).unwrap().seed(5);
        model
            .compile(
                &Device::cpu(),
                Optimizer::sgd(),
                Loss::MeanSquaredError,
                &[],
            )
            .unwrap();
        let target: ArrayD<f32> = if sequences {
            ArrayD::from_shape_fn(vec![3, 4, 1], |_| rng.random_range(-1.0f32..1.0))
        } else {
            ArrayD::from_shape_fn(vec![3, 1], |_| rng.random_range(-1.0f32..1.0))
        };
        check_finite_differences(
            &mut model,
            &x,
            &target,
            &format!("{merge:?}, sequences {sequences}"),
        );
    }
}

#[test]
fn gpu_gradients_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let mut rng = StdRng::seed_from_u64(15);
    let x = padded(&mut rng, &[5, 2, 7, 1], 3, false);
    let y = Array1::from_shape_fn(4, |_| rng.random_range(0..2) as f32);
    let grads = |device: &Device| {
        let input = Input::new([None, Some(3)]);
        let h = Bidirectional::new(Lstm::new(5).return_sequences(true))
            .merge_mode(MergeMode::Ave)
            .call(&Masking::new(0.0).call(&input));
        let h = Bidirectional::new(Lstm::new(3)).call(&h);
        let out = Dense::new(1).activation(Activation::Sigmoid).call(&h);
        let mut model = Model::new(&input, &out).unwrap().seed(6);
        model
            .compile(device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        model.gradients(&x, &y).unwrap()
    };
    for ((name, want), (_, got)) in grads(&Device::cpu()).iter().zip(grads(&gpu)) {
        let (w, g) = (
            want.iter().copied().collect::<Vec<_>>(),
            got.iter().copied().collect::<Vec<_>>(),
        );
        let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = g
            .iter()
            .zip(&w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            err <= 1e-4 * scale.max(1e-3),
            "{name}: GPU differs from the CPU by {err:e} (scale {scale:e})"
        );
    }
}

#[test]
fn merge_none_gives_two_outputs_a_functional_model_trains_on() {
    let mut rng = StdRng::seed_from_u64(16);
    let x = padded(&mut rng, &[3, 5, 2, 5, 4, 1, 5, 3], 3, true);
    let y_f = Array1::from_shape_fn(8, |i| (i % 2) as f32);
    let y_b = Array1::from_shape_fn(8, |i| ((i / 2) % 2) as f32);
    for device in devices() {
        let input = Input::new([None, Some(3)]);
        let both = Bidirectional::new(Lstm::new(4))
            .merge_mode(MergeMode::None)
            .call(&Masking::new(0.0).call(&input));
        let f = Dense::new(1)
            .activation(Activation::Sigmoid)
            .name("f")
            .call(&both.output(0).unwrap());
        let b = Dense::new(1)
            .activation(Activation::Sigmoid)
            .name("b")
            .call(&both.output(1).unwrap());
        let mut model = Model::new(&input, &[&f, &b]).unwrap().seed(7);
        model
            .compile(
                &device,
                Optimizer::adam().learning_rate(0.05),
                Loss::BinaryCrossentropy,
                &[],
            )
            .unwrap();
        let history = model
            .fit(
                &x,
                [y_f.view().into_dyn(), y_b.view().into_dyn()],
                FitOptions::new().batch_size(4).epochs(20),
            )
            .unwrap();
        let loss = history.loss();
        assert!(loss[19] < 0.7 * loss[0], "on {}: {loss:?}", device.info());
        let preds = model.predict_many(&x).unwrap();
        assert_eq!(
            (preds.len(), preds[0].shape(), preds[1].shape()),
            (2, &[8, 1][..], &[8, 1][..])
        );
    }
    // Output 2 does not exist, and a Sequential passes one output from layer to layer.
    let input = Input::new([None, Some(3)]);
    let both = Bidirectional::new(Lstm::new(4))
        .merge_mode(MergeMode::None)
        .call(&input);
    let mut model = Model::new(&input, &both.output(2).unwrap()).unwrap();
    let err = model
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .and_then(|_| model.predict(&x).map(drop));
    assert!(
        matches!(err, Err(Error::Config(ref m)) if m.contains("gives 2 outputs where 3")),
        "{err:?}"
    );
    let mut seq = Sequential::new().add(
        Bidirectional::new(Lstm::new(4))
            .merge_mode(MergeMode::None)
            .input_shape([None, Some(3)]),
    );
    let err = seq
        .compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
        .and_then(|_| seq.predict(&x).map(drop));
    assert!(matches!(err, Err(Error::Config(_))), "{err:?}");
    assert!(matches!(
        Input::new([Some(1)]).output(1),
        Err(Error::Config(_))
    ));
}

/// Dispatches of one `train_on_batch` (after a first one that builds everything).
fn dispatches_per_step(
    device: &Device,
    model: &mut Model,
    x: &Array3<f32>,
    y: &Array1<f32>,
) -> u64 {
    let ctx = device.gpu_context().expect("a GPU device");
    model.train_on_batch(x, y).unwrap();
    let before = ctx.counters().dispatches;
    for _ in 0..3 {
        model.train_on_batch(x, y).unwrap();
    }
    (ctx.counters().dispatches - before) / 3
}

#[test]
fn a_bidirectional_step_costs_two_lstms_side_by_side_and_two_reversals() {
    // A device of its own: its counters count only this test's work.
    let Some(device) = common::open_gpu_with(wgfit::GpuOptions::default()) else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(17);
    let x = padded(&mut rng, &[9, 4, 12, 7], 3, true);
    let y = Array1::from_shape_fn(4, |i| (i % 2) as f32);
    let model = |bidirectional: bool| {
        let input = Input::new([None, Some(3)]);
        let m = Masking::new(0.0).call(&input);
        let h = if bidirectional {
            Bidirectional::new(Lstm::new(8)).call(&m)
        } else {
            Concatenate::new().call_many(&[&Lstm::new(8).call(&m), &Lstm::new(8).call(&m)])
        };
        let out = Dense::new(1).activation(Activation::Sigmoid).call(&h);
        let mut model = Model::new(&input, &out).unwrap();
        model
            .compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
            .unwrap();
        model
    };
    let side_by_side = dispatches_per_step(&device, &mut model(false), &x, &y);
    let both = dispatches_per_step(&device, &mut model(true), &x, &y);
    eprintln!(
        "dispatches per step on {}: two LSTM(8) concatenated {side_by_side}, Bidirectional(LSTM(8)) {both}",
        device.info()
    );
    // Reversing x and the mask; the input needs no gradient, so no dx comes back reversed.
    assert_eq!(both, side_by_side + 2);
}

#[test]
fn weights_are_saved_and_loaded_by_their_direction_names() {
    let mut rng = StdRng::seed_from_u64(18);
    let x = padded(&mut rng, &[3, 6, 2], 3, false);
    let dir = std::env::temp_dir().join(format!("wgfit-bidi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bidi.safetensors");
    let model = |seed: u64| {
        let mut m = Sequential::new()
            .seed(seed)
            .add(
                Bidirectional::new(Lstm::new(3))
                    .merge_mode(MergeMode::Mul)
                    .input_shape([None, Some(3)]),
            )
            .add(Dense::new(2));
        m.compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        )
        .unwrap();
        m
    };
    let (mut saved, mut loaded) = (model(1), model(2));
    let names: Vec<String> = saved
        .get_weights()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let roles = ["kernel", "recurrent_kernel", "bias"];
    let want: Vec<String> = ["forward", "backward"]
        .iter()
        .flat_map(|d| {
            roles
                .iter()
                .map(move |r| format!("layers.0.bidirectional.{d}.{r}"))
        })
        .chain(["layers.1.dense.kernel".into(), "layers.1.dense.bias".into()])
        .collect();
    assert_eq!(names, want);
    assert_ne!(saved.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    saved.save_weights(&path).unwrap();
    loaded.load_weights(&path).unwrap();
    assert_eq!(saved.predict(&x).unwrap(), loaded.predict(&x).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
