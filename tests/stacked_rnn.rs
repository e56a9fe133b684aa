//! Stacked recurrent layers (`return_sequences` into the next one) with masks flowing through,
//! on the CPU and the GPU: the padding is skipped at every level, so post- and pre-padded
//! batches give the same outputs (and an unmasked stack shows that the check can tell), and
//! the gradients match finite differences.

mod common;

use common::{check_finite_differences, gpu};
use ndarray::{Array3, ArrayD, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

const LENGTHS: [usize; 6] = [5, 1, 3, 5, 2, 4];

/// Sequences of `LENGTHS` (features never 0), post-padded, and the same ones pre-padded.
fn both_paddings(rng: &mut StdRng, f: usize) -> (Array3<f32>, Array3<f32>) {
    let t = *LENGTHS.iter().max().unwrap();
    let (mut post, mut pre) = (
        Array3::zeros((LENGTHS.len(), t, f)),
        Array3::zeros((LENGTHS.len(), t, f)),
    );
    for (i, &len) in LENGTHS.iter().enumerate() {
        for step in 0..len {
            for k in 0..f {
                let v = rng.random_range(0.1f32..1.0) * if rng.random() { 1.0 } else { -1.0 };
                post[[i, step, k]] = v;
                pre[[i, t - len + step, k]] = v;
            }
        }
    }
    (post, pre)
}

/// The stacks under test: LSTM(return_sequences) -> LSTM, Bidirectional(return_sequences) ->
/// LSTM, and Bidirectional -> Bidirectional; `masked` puts a Masking layer first.
fn stack(kind: usize, masked: bool) -> Model {
    let x = Input::new([None, Some(3)]);
    let h = if masked {
        Masking::new(0.0).call(&x)
    } else {
        x.clone()
    };
    let out = match kind {
        0 => Lstm::new(3).call(&Lstm::new(4).return_sequences(true).call(&h)),
        1 => Lstm::new(3).call(&Bidirectional::new(Lstm::new(4).return_sequences(true)).call(&h)),
        _ => Bidirectional::new(Lstm::new(2))
            .merge_mode(MergeMode::Sum)
            .call(&Bidirectional::new(Lstm::new(3).return_sequences(true)).call(&h)),
    };
    Model::new(&x, &Dense::new(1).call(&out)).unwrap().seed(9)
}

fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn masks_flow_through_stacked_recurrent_layers() {
    let mut rng = StdRng::seed_from_u64(21);
    let (post, pre) = both_paddings(&mut rng, 3);
    for device in [Some(Device::cpu()), gpu()].into_iter().flatten() {
        for kind in 0..3 {
            let mut model = stack(kind, true);
            model
                .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
                .unwrap();
            let (a, b) = (model.predict(&post).unwrap(), model.predict(&pre).unwrap());
            let diff = max_abs_diff(&a, &b);
            assert!(
                diff <= 1e-5,
                "stack {kind} on {}: post and pre differ by {diff:e}",
                device.info()
            );
            // Without the mask the padding is read as data: the check above can fail.
            let mut unmasked = stack(kind, false);
            unmasked
                .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
                .unwrap();
            let (a, b) = (
                unmasked.predict(&post).unwrap(),
                unmasked.predict(&pre).unwrap(),
            );
            assert!(
                max_abs_diff(&a, &b) > 1e-3,
                "stack {kind}: unmasked padding changed nothing"
            );
        }
    }
}

#[test]
fn the_mask_reaches_the_second_layer_of_a_stack() {
    // The second LSTM's state at a sample's last real step is its output: compare the stack
    // on the padded batch with the stack on each sequence alone (no padding at all).
    let mut rng = StdRng::seed_from_u64(22);
    let (post, _) = both_paddings(&mut rng, 3);
    for device in [Some(Device::cpu()), gpu()].into_iter().flatten() {
        let mut model = stack(1, true);
        model
            .compile(&device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
            .unwrap();
        let batch = model.predict(&post).unwrap();
        for (i, &len) in LENGTHS.iter().enumerate() {
            let alone = model
                .predict(&post.slice(s![i..=i, ..len, ..]).to_owned())
                .unwrap();
            let diff = (alone[[0, 0]] - batch[[i, 0]]).abs();
            assert!(diff <= 1e-5, "sample {i} on {}: {diff:e}", device.info());
        }
    }
}

#[test]
fn stacked_gradients_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(23);
    let (_, pre) = both_paddings(&mut rng, 3);
    let x = pre.slice(s![..3, .., ..]).to_owned();
    let y = ArrayD::from_shape_fn(vec![3, 1], |_| rng.random_range(-1.0f32..1.0));
    for kind in 0..2 {
        let x_in = Input::new([None, Some(3)]);
        let h = Masking::new(0.0).call(&x_in);
        let out = match kind {
            0 => Lstm::new(2).call(&Lstm::new(2).return_sequences(true).call(&h)),
            _ => {
                Lstm::new(2).call(&Bidirectional::new(Lstm::new(2).return_sequences(true)).call(&h))
            }
        };
        let mut model = Model::new(&x_in, &Dense::new(1).call(&out))
            .unwrap()
            .seed(10);
        model
            .compile(
                &Device::cpu(),
                Optimizer::sgd(),
                Loss::MeanSquaredError,
                &[],
            )
            .unwrap();
        check_finite_differences(&mut model, &x, &y, &format!("stack {kind}"));
    }
}
