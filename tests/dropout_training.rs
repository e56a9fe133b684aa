//! Training through dropout on the CPU reference and the GPU: weight gradients through a fixed
//! mask against finite differences (Dense -> Dropout -> Dense, Embedding(mask_zero) ->
//! SpatialDropout1D -> LSTM -> Dense), and small models trained with `fit` that learn and give
//! the same history and weights on both devices (their masks are equal bit for bit).

mod common;

use ndarray::{Array1, Array2, ArrayD};
use rand::Rng;
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(common::gpu());
    d
}

fn mlp() -> Sequential {
    Sequential::new()
        .seed(1)
        .add(Dense::new(6).activation(Activation::Tanh).input_shape([4]))
        .add(Dropout::new(0.4))
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

fn embedding_lstm(steps: usize) -> Sequential {
    Sequential::new()
        .seed(2)
        .add(Embedding::new(10, 4).mask_zero(true).input_length(steps))
        .add(SpatialDropout1D::new(0.4))
        .add(Lstm::new(3))
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

fn points(rng: &mut impl Rng, n: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let x = Array2::from_shape_fn((n, 4), |_| rng.random_range(-1.0f32..1.0));
    let y = Array1::from_iter(x.rows().into_iter().map(|r| f32::from(r.sum() > 0.0)));
    (x.into_dyn(), y.into_dyn())
}

/// Post-padded token sequences (ids 1..9, zeros after each length) labelled by whether their
/// first token is below 5.
fn tokens(rng: &mut impl Rng, n: usize, steps: usize) -> (ArrayD<f32>, ArrayD<f32>) {
    let mut x = Array2::<f32>::zeros((n, steps));
    for mut row in x.rows_mut() {
        let len = rng.random_range(1..=steps);
        for v in row.iter_mut().take(len) {
            *v = rng.random_range(1..10) as f32;
        }
    }
    let y = Array1::from_iter(x.rows().into_iter().map(|r| f32::from(r[0] < 5.0)));
    (x.into_dyn(), y.into_dyn())
}

/// Checks every weight gradient of `model`'s first training call after compiling against
/// central finite differences of the loss under the same masks. Compiling again restarts
/// each dropout layer's stream, so the first training forward after a compile draws call 0's
/// masks every time: `gradients` for the analytic side, and for each probe a fresh compile,
/// the perturbed weights, and `train_on_batch`, whose loss is the batch's before its update.
/// Tolerances as `common::check_finite_differences`.
fn check_gradients_through_fixed_masks(
    model: &mut Sequential,
    device: &Device,
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    case: &str,
) {
    let compile = |m: &mut Sequential| {
        m.compile(device, Optimizer::sgd(), Loss::BinaryCrossentropy, &[])
            .unwrap();
    };
    compile(model);
    // Embeddings of ±0.05 (Keras's initializer) leave the LSTM's gradients near the f32
    // loss's rounding over 2h; ±1 gives them a size finite differences resolve.
    let weights: Vec<ArrayD<f32>> = model
        .get_weights()
        .unwrap()
        .into_iter()
        .map(|(name, w)| {
            if name.contains("embedding") {
                w * 20.0
            } else {
                w
            }
        })
        .collect();
    model.set_weights(&weights).unwrap();
    let grads = model.gradients(x, y).unwrap();
    assert_eq!(
        grads.len(),
        weights.len(),
        "{case}: every weight has a gradient"
    );
    let h = 1e-2f32;
    for (t, (name, g)) in grads.iter().enumerate() {
        let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let floor = (1e-2 * scale).min(1e-4);
        for i in 0..g.len() {
            let mut probe = |delta: f32| {
                let mut w = weights.clone();
                w[t].as_slice_mut().unwrap()[i] += delta;
                compile(model);
                model.set_weights(&w).unwrap();
                f64::from(model.train_on_batch(x, y).unwrap())
            };
            let fd = ((probe(h) - probe(-h)) / f64::from(2.0 * h)) as f32;
            let an = g.as_slice().unwrap()[i];
            assert!(
                (fd - an).abs() <= 2e-2 * an.abs().max(fd.abs()) + floor,
                "{case}: {name}[{i}] is {an} but finite differences give {fd} (floor {floor:e})"
            );
        }
    }
}

#[test]
fn gradients_through_a_dropout_mask_match_finite_differences() {
    let mut rng = common::rng("dropout gradients");
    let (x, y) = points(&mut rng, 12);
    for device in devices() {
        let case = format!("Dense -> Dropout -> Dense on {}", device.info());
        check_gradients_through_fixed_masks(&mut mlp(), &device, &x, &y, &case);
    }
}

#[test]
fn gradients_through_spatial_dropout_match_finite_differences() {
    let mut rng = common::rng("spatial dropout gradients");
    let (x, y) = tokens(&mut rng, 8, 5);
    for device in devices() {
        let case = format!("Embedding -> SpatialDropout1D -> LSTM on {}", device.info());
        check_gradients_through_fixed_masks(&mut embedding_lstm(5), &device, &x, &y, &case);
    }
}

/// Fits `model` on each device; it must learn (its loss falls by 5% at least), and every device must give the CPU's history
/// and weights (to 1e-3: the same masks, sums in another order).
fn fits_alike(make: impl Fn() -> Sequential, x: &ArrayD<f32>, y: &ArrayD<f32>, case: &str) {
    let mut runs = Vec::new();
    for device in devices() {
        let mut model = make();
        model
            .compile(
                &device,
                Optimizer::adam().learning_rate(0.01),
                Loss::BinaryCrossentropy,
                &[Metric::Accuracy],
            )
            .unwrap();
        let history = model
            .fit(x, y, FitOptions::new().batch_size(16).epochs(8).verbose(0))
            .unwrap();
        let loss = history.loss().to_vec();
        // It must learn: over 60 data seeds the LSTM's last loss was 0.37..0.83 of its first
        // (the MLP's lower still), and 1.0 when nothing learns; 0.95 leaves the spread room.
        assert!(
            loss[7] < 0.95 * loss[0],
            "{case} on {}: loss {loss:?}",
            device.info()
        );
        let weights: Vec<f32> = model
            .get_weights()
            .unwrap()
            .into_iter()
            .flat_map(|(_, w)| w.into_iter())
            .collect();
        runs.push((device.info(), loss, weights));
    }
    let (_, cpu_loss, cpu_weights) = &runs[0];
    for (info, loss, weights) in &runs[1..] {
        let close = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(a, b)| (a - b).abs() <= 1e-3 * a.abs().max(b.abs()).max(1e-2))
        };
        assert!(
            close(loss, cpu_loss),
            "{case} on {info}: {loss:?} vs the CPU's {cpu_loss:?}"
        );
        assert!(
            close(weights, cpu_weights),
            "{case} on {info}: weights differ from the CPU's"
        );
    }
}

#[test]
fn a_dense_model_with_dropout_trains_alike_on_both_devices() {
    let mut rng = common::rng("dropout fit");
    let (x, y) = points(&mut rng, 200);
    fits_alike(mlp, &x, &y, "Dense -> Dropout -> Dense");
}

#[test]
fn an_lstm_after_spatial_dropout_trains_alike_on_both_devices() {
    let mut rng = common::rng("spatial dropout fit");
    let (x, y) = tokens(&mut rng, 160, 6);
    fits_alike(
        || embedding_lstm(6),
        &x,
        &y,
        "Embedding -> SpatialDropout1D -> LSTM",
    );
}
