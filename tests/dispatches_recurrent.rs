//! Dispatches per training step of a masked GRU and of masked Bidirectional GRU and LSTM
//! models (and of the masked LSTM, for comparison) on the GPU under test (lavapipe in CI):
//! printed for BENCHMARKS.md ("The recurrent family"), and checked to depend on the batch's
//! time length only, not its size, and affinely on it (a fixed cost plus so many per step).

mod common;

use common::padded::padded;
use ndarray::Array1;
use rand::SeedableRng;
use rand::rngs::StdRng;
use wgfit::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Lstm,
    Gru,
    BidirectionalGru,
    BidirectionalLstm,
}

/// Input(None, 10) -> Masking(0) -> `kind` -> Dense(1, sigmoid), compiled with Adam.
fn model(device: &Device, kind: Kind, units: usize) -> Model {
    let input = Input::new([None, Some(10)]);
    let m = Masking::new(0.0).call(&input);
    let h = match kind {
        Kind::Lstm => Lstm::new(units).call(&m),
        Kind::Gru => Gru::new(units).call(&m),
        Kind::BidirectionalGru => Bidirectional::new(Gru::new(units)).call(&m),
        Kind::BidirectionalLstm => Bidirectional::new(Lstm::new(units)).call(&m),
    };
    let out = Dense::new(1).activation(Activation::Sigmoid).call(&h);
    let mut model = Model::new(&input, &out).unwrap();
    model
        .compile(device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])
        .unwrap();
    model
}

/// Dispatches of one `train_on_batch` on `batch` rows padded (post) to `t` steps, the last row
/// shorter, after a first step that builds everything.
fn per_step(device: &Device, kind: Kind, units: usize, batch: usize, t: usize) -> u64 {
    let mut rng = StdRng::seed_from_u64(56);
    let lengths: Vec<usize> = (0..batch)
        .map(|i| if i + 1 == batch { t / 2 } else { t })
        .collect();
    let x = padded(&mut rng, &lengths, 10, true);
    let y = Array1::from_shape_fn(batch, |i| (i % 2) as f32);
    let mut model = model(device, kind, units);
    let ctx = device.gpu_context().expect("a GPU device");
    model.train_on_batch(&x, &y).unwrap();
    let before = ctx.counters().dispatches;
    for _ in 0..2 {
        model.train_on_batch(&x, &y).unwrap();
    }
    (ctx.counters().dispatches - before) / 2
}

#[test]
fn recurrent_steps_dispatch_by_time_length_not_batch_size() {
    // A device of its own: its counters count only this test's work.
    let Some(device) = common::open_gpu_with(wgfit::GpuOptions::default()) else {
        return;
    };
    for (kind, units) in [
        (Kind::Lstm, 128),
        (Kind::Gru, 128),
        (Kind::BidirectionalGru, 32),
        (Kind::BidirectionalLstm, 64),
    ] {
        let at = |batch, t| per_step(&device, kind, units, batch, t);
        let (t6, t12, t18) = (at(3, 6), at(3, 12), at(3, 18));
        eprintln!(
            "{kind:?}({units}) on {}: dispatches per train_on_batch at 6, 12, 18 steps: {t6}, {t12}, {t18} ({} per step)",
            device.info(),
            (t12 - t6) as f64 / 6.0
        );
        assert_eq!(
            at(8, 12),
            t12,
            "{kind:?}: a larger batch, the same dispatches"
        );
        assert_eq!(
            t18 - t12,
            t12 - t6,
            "{kind:?}: dispatches affine in the time length"
        );
    }
}
