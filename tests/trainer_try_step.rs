//! `Trainer::try_step`, the training loop advanced without ever waiting for the GPU (for a UI
//! thread): an epoch's end leaves its logs on their way and they arrive later, equal to
//! `fit`'s; no readback is waited for; the running logs (`set_live`) arrive as training goes.

mod common;

use ndarray::{Array1, Array3, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::LiveLogs;
use wgfit::prelude::*;

fn model(device: &Device) -> Sequential {
    let mut m = Sequential::new()
        .seed(3)
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(Lstm::new(5))
        .add(Dense::new(2).activation(Activation::Softmax));
    m.compile(
        device,
        Optimizer::adam().learning_rate(0.01),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

/// 23 sequences (batches of 4: five full and one of 3), post-padded.
fn data() -> (Array3<f32>, Array1<f32>) {
    let mut rng = StdRng::seed_from_u64(5);
    let n = 23;
    let mut x = Array3::from_shape_fn((n, 7, 3), |_| rng.random_range(-1.0..1.0f32));
    for i in 0..n {
        x.slice_mut(s![i, 7 - i % 4.., ..]).fill(0.0);
    }
    (x, Array1::from_shape_fn(n, |i| ((i * 7) % 3 % 2) as f32))
}

fn opts() -> FitOptions {
    FitOptions::new().batch_size(4).epochs(3).seed(2).verbose(0)
}

type Weights = Vec<(String, ndarray::ArrayD<f32>)>;

/// Trains with `try_step(batches)` until done; checks that the step ending each epoch
/// returns with that epoch's logs still on their way and (on a GPU) that no readback was
/// waited for. Returns the history, the weights and the latest running logs.
fn train_without_waiting(device: &Device, batches: usize) -> (History, Weights, Option<LiveLogs>) {
    let counters = || device.gpu_context().map(|c| c.counters());
    let before = counters();
    let (x, y) = data();
    let mut m = model(device);
    let mut trainer = m.trainer(&x, &y, opts()).unwrap();
    trainer.set_live(true);
    let mut epoch = 0;
    loop {
        let state = trainer.try_step(batches).unwrap();
        if state.done {
            break;
        }
        if state.epoch > epoch && device.is_gpu() {
            // The copies of the epoch's sums ride with the next submit: nothing can have
            // arrived, so the step did not wait for them.
            assert_eq!(
                trainer.history().epochs(),
                state.epoch - trainer.pending_epochs(),
                "the epoch's logs are not in yet"
            );
            assert!(
                trainer.pending_epochs() >= 1,
                "epoch {epoch} ended without waiting"
            );
        }
        epoch = state.epoch;
    }
    assert_eq!(trainer.pending_epochs(), 0, "done means every log arrived");
    if let (Some(before), Some(after)) = (before, counters()) {
        assert_eq!(
            (
                after.readbacks - before.readbacks,
                after.overlapped_readbacks - before.overlapped_readbacks
            ),
            (0, 0),
            "every log was polled for, none waited for"
        );
    }
    let history = trainer.history().clone();
    let latest = trainer.latest().cloned();
    drop(trainer);
    (history, m.get_weights().unwrap(), latest)
}

fn fit(device: &Device) -> (History, Weights) {
    let (x, y) = data();
    let mut m = model(device);
    let h = m.fit(&x, &y, opts()).unwrap();
    (h, m.get_weights().unwrap())
}

fn assert_same(got: &History, want: &History) {
    assert_eq!(got.epochs(), 3);
    for key in ["loss", "accuracy"] {
        let (g, w) = (got.get(key).unwrap(), want.get(key).unwrap());
        for (a, b) in g.iter().zip(w) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{key}: {g:?} against {w:?}"
            );
        }
    }
}

#[test]
fn try_step_on_the_gpu_never_waits_and_its_logs_arrive_equal_to_fit_s() {
    let Some(gpu) = common::open_gpu_with(Default::default()) else {
        return;
    };
    let (want, want_weights) = fit(&gpu);
    for batches in [1, 3] {
        let (got, weights, latest) = train_without_waiting(&gpu, batches);
        assert_same(&got, &want);
        for ((name, a), (_, b)) in weights.iter().zip(&want_weights) {
            let err = (a - b).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
            assert!(err <= 1e-6, "{name}: off by {err}");
        }
        let latest = latest.expect("running logs arrived");
        assert!(latest.epoch <= 2 && latest.batch >= 1 && latest.logs.loss.is_finite());
    }
}

#[test]
fn try_step_on_the_cpu_trains_exactly_like_fit() {
    let cpu = Device::cpu();
    let (want, want_weights) = fit(&cpu);
    let (got, weights, latest) = train_without_waiting(&cpu, 2);
    assert_eq!(got.history, want.history);
    assert_eq!(weights, want_weights);
    // On the CPU the running logs are read at once: the last is the last epoch's end.
    let latest = latest.expect("running logs");
    assert_eq!((latest.epoch, latest.batch), (2, 6));
    assert_eq!(latest.logs.loss, *want.loss().last().unwrap());
}

#[test]
fn a_blocking_step_after_try_step_keeps_the_epochs_in_order() {
    let Some(gpu) = common::open_gpu_with(Default::default()) else {
        return;
    };
    let (want, _) = fit(&gpu);
    let (x, y) = data();
    let mut m = model(&gpu);
    let mut trainer = m.trainer(&x, &y, opts()).unwrap();
    // The first epoch ended without waiting, the rest with `step`, which collects it first.
    while trainer.state().epoch == 0 {
        trainer.try_step(1).unwrap();
    }
    while !trainer.step(2).unwrap().done {}
    assert_eq!(trainer.pending_epochs(), 0);
    assert_same(trainer.history(), &want);
}
