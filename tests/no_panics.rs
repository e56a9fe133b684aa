//! Property test: random models and data (shapes, ranks, lengths, paddings, token ids, labels,
//! NaNs, batch sizes, epochs), valid or not, driven through `fit` and `predict` on the CPU
//! and the GPU: every call returns `Ok` or a typed `Err`; none panics.
//!
//! CI runs 256 cases; run longer by hand with `PROPTEST_CASES=2000 cargo test --release --test no_panics`.

mod common;

use ndarray::{ArrayD, IxDyn};
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use wgfit::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Dense,
    MaskedLstm,
    EmbeddingLstm,
    MaskedGru,
    EmbeddingSimpleRnn,
}

#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    x_dims: Vec<usize>,
    x_values: Vec<f32>,
    y_dims: Vec<usize>,
    y_values: Vec<f32>,
    batch_size: usize,
    epochs: usize,
    gpu: bool,
    /// A NaN or infinity written over one input value, sometimes.
    poison: Option<(usize, f32)>,
}

/// Inputs: mostly valid token ids (0..6, which are also fine features), some real values, a
/// few ids out of range.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        10 => (0i32..6).prop_map(|v| v as f32),
        3 => -2.0f32..2.0,
        1 => prop_oneof![Just(-1.0f32), Just(6.0), Just(1.5)],
    ]
}

/// Labels: mostly class ids 0..3, some out of range or fractional.
fn label() -> impl Strategy<Value = f32> {
    prop_oneof![
        12 => (0i32..3).prop_map(|v| v as f32),
        1 => prop_oneof![Just(-1.0f32), Just(3.0), Just(0.5)],
    ]
}

/// Shapes near what each model takes (most of the time), or anything.
fn shapes(kind: Kind) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    let fitting = (0usize..5, 0usize..6, 0usize..3).prop_map(move |(n, t, off)| {
        let x = match kind {
            Kind::Dense => vec![n, 2, 3],
            Kind::MaskedLstm => vec![n, t, 3],
            Kind::EmbeddingLstm => vec![n, t],
            Kind::MaskedGru => vec![n, t, 3],
            Kind::EmbeddingSimpleRnn => vec![n, t],
        };
        // Mostly one label per sample; sometimes one short or long.
        let y = vec![if off == 1 { n + 1 } else { n }];
        (x, y)
    });
    let anything = (
        prop::collection::vec(0usize..5, 0..4),
        prop::collection::vec(0usize..4, 0..3),
    );
    prop_oneof![3 => fitting, 1 => anything]
}

fn case() -> impl Strategy<Value = Case> {
    let kind = prop_oneof![
        Just(Kind::Dense),
        Just(Kind::MaskedLstm),
        Just(Kind::EmbeddingLstm),
        Just(Kind::MaskedGru),
        Just(Kind::EmbeddingSimpleRnn)
    ];
    let poison = prop::option::weighted(
        0.1,
        (
            any::<usize>(),
            prop_oneof![Just(f32::NAN), Just(f32::INFINITY)],
        ),
    );
    kind.prop_flat_map(move |kind| {
        (
            Just(kind),
            shapes(kind),
            0usize..5,
            0usize..3,
            any::<bool>(),
            poison.clone(),
        )
    })
    .prop_flat_map(
        |(kind, (x_dims, y_dims), batch_size, epochs, gpu, poison)| {
            let nx: usize = x_dims.iter().product();
            let ny: usize = y_dims.iter().product();
            (
                prop::collection::vec(value(), nx),
                prop::collection::vec(label(), ny),
            )
                .prop_map(move |(x_values, y_values)| Case {
                    kind,
                    x_dims: x_dims.clone(),
                    x_values,
                    y_dims: y_dims.clone(),
                    y_values,
                    batch_size,
                    epochs,
                    gpu,
                    poison,
                })
        },
    )
}

fn model(kind: &Kind, device: &Device) -> Sequential {
    let m = match kind {
        Kind::Dense => Sequential::new()
            .add(Flatten::new().input_shape([2, 3]))
            .add(Dense::new(3).activation(Activation::Softmax)),
        Kind::MaskedLstm => Sequential::new()
            .add(Masking::new(0.0).input_shape([None, Some(3)]))
            .add(Lstm::new(2))
            .add(Dense::new(3).activation(Activation::Softmax)),
        Kind::EmbeddingLstm => Sequential::new()
            .add(Embedding::new(6, 2).mask_zero(true))
            .add(Lstm::new(2))
            .add(Dense::new(3).activation(Activation::Softmax)),
        Kind::MaskedGru => Sequential::new()
            .add(Masking::new(0.0).input_shape([None, Some(3)]))
            .add(Gru::new(2).reset_after(false))
            .add(Dense::new(3).activation(Activation::Softmax)),
        Kind::EmbeddingSimpleRnn => Sequential::new()
            .add(Embedding::new(6, 2).mask_zero(true))
            .add(SimpleRnn::new(2))
            .add(Dense::new(3).activation(Activation::Softmax)),
    };
    let mut m = m;
    m.compile(
        device,
        Optimizer::adam(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .expect("a valid model compiles");
    m
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn fit_and_predict_never_panic(c in case()) {
        let device = if c.gpu { common::gpu().unwrap_or(Device::cpu()) } else { Device::cpu() };
        let mut values = c.x_values.clone();
        if let (Some((at, v)), false) = (c.poison, values.is_empty()) {
            let n = values.len();
            values[at % n] = v;
        }
        let x = ArrayD::from_shape_vec(IxDyn(&c.x_dims), values).unwrap();
        let y = ArrayD::from_shape_vec(IxDyn(&c.y_dims), c.y_values.clone()).unwrap();
        let mut m = model(&c.kind, &device);
        let fitted = m.fit(&x, &y, FitOptions::new().batch_size(c.batch_size).epochs(c.epochs).verbose(0));
        if let Ok(h) = &fitted {
            prop_assert!(h.epochs() <= c.epochs);
        }
        let _ = m.predict(&x);
        let _ = m.evaluate(&x, &y);
        FITTED.fetch_add(usize::from(fitted.is_ok()), Ordering::Relaxed);
        if TRIED.fetch_add(1, Ordering::Relaxed) % 250 == 249 {
            eprintln!("no_panics: {} of {} cases trained", FITTED.load(Ordering::Relaxed), TRIED.load(Ordering::Relaxed));
        }
    }
}

static FITTED: AtomicUsize = AtomicUsize::new(0);
static TRIED: AtomicUsize = AtomicUsize::new(0);

/// Runs after the property (tests in one binary run in name order only by chance, so it
/// checks its own cases): a generator that produced only errors would test nothing.
#[test]
fn the_generator_reaches_training() {
    // A fixed generator seed: the share of valid cases is a property of the generator, and a
    // random seed made this count flaky (about 10% train; 64 draws sometimes gave 5).
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(
        ProptestConfig {
            cases: 64,
            ..ProptestConfig::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let mut ok = 0;
    for _ in 0..64 {
        let c = case().new_tree(&mut runner).unwrap().current();
        let x = ArrayD::from_shape_vec(IxDyn(&c.x_dims), c.x_values.clone()).unwrap();
        let y = ArrayD::from_shape_vec(IxDyn(&c.y_dims), c.y_values.clone()).unwrap();
        let mut m = model(&c.kind, &Device::cpu());
        ok += usize::from(
            m.fit(
                &x,
                &y,
                FitOptions::new()
                    .batch_size(c.batch_size)
                    .epochs(c.epochs)
                    .verbose(0),
            )
            .is_ok(),
        );
    }
    eprintln!("{ok} of 64 generated cases trained");
    assert!(ok >= 6, "only {ok} of 64 generated cases trained");
}
