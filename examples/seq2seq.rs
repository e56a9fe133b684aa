//! An encoder-decoder (Keras's seq2seq pattern) learning to reverse digit sequences of length
//! 3..12: the encoder's `return_state` is the decoder's `initial_state`, trained with teacher
//! forcing (the decoder reads the true previous digit) and evaluated by greedy decoding (it
//! reads its own previous guess) on held-out sequences, whole-sequence accuracy.
//!
//! ```python
//! src = Input((None,)); enc = Embedding(11, 32, mask_zero=True)(src)
//! _, h, c = LSTM(128, return_state=True)(enc)
//! tgt = Input((None,)); dec = Embedding(12, 32, mask_zero=True)(tgt)
//! dec = LSTM(128, return_sequences=True)(dec, initial_state=[h, c])
//! model = Model([src, tgt], Dense(10, activation="softmax")(dec))
//! model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
//! ```
//!
//!     cargo run --release --example seq2seq

use std::time::Instant;

use ndarray::{Array2, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

/// Sequence lengths, and the tokens: digit d is d + 1, 0 is padding (masked), START starts
/// the decoder's input.
const MIN_LEN: usize = 3;
const MAX_LEN: usize = 12;
const START: f32 = 11.0;
const UNITS: usize = 128;
/// Adam's learning rate from each round (of 4 096 fresh sequences) on: smaller steps for the
/// last stretch, where a whole sequence needs every digit right.
const SCHEDULE: [(u64, f32); 3] = [(1, 0.004), (16, 0.001), (26, 0.0003)];

/// Compiles `model` for the sparse targets with Adam at learning rate `lr`.
fn compile(model: &mut Model, device: &Device, lr: f32) -> anyhow::Result<()> {
    let adam = Optimizer::adam().learning_rate(lr);
    model.compile(
        device,
        adam,
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    Ok(())
}

/// `n` random digit sequences: the encoder's input, the decoder's teacher-forced input
/// (START, then the reversed digits but the last) and its targets (the reversed digits), all
/// `[n, MAX_LEN]` post-padded with zeros; and the lengths.
fn batch(rng: &mut StdRng, n: usize) -> (Array2<f32>, Array2<f32>, Array2<f32>, Vec<usize>) {
    let (mut src, mut dec, mut y) = (
        Array2::zeros((n, MAX_LEN)),
        Array2::zeros((n, MAX_LEN)),
        Array2::zeros((n, MAX_LEN)),
    );
    let mut lengths = Vec::with_capacity(n);
    for i in 0..n {
        let len = rng.random_range(MIN_LEN..=MAX_LEN);
        let digits: Vec<usize> = (0..len).map(|_| rng.random_range(0..10)).collect();
        for (j, &d) in digits.iter().enumerate() {
            src[[i, j]] = (d + 1) as f32;
            let r = digits[len - 1 - j];
            y[[i, j]] = r as f32;
            dec[[i, j]] = if j == 0 {
                START
            } else {
                (digits[len - j] + 1) as f32
            };
        }
        lengths.push(len);
    }
    (src, dec, y, lengths)
}

/// Greedy decoding: the decoder's input starts as START alone and each step appends the
/// model's most likely digit (the prediction at step k reads the input up to k only, the rest
/// being masked padding); the fraction of sequences reversed without an error.
fn greedy_accuracy(
    model: &mut Model,
    src: &Array2<f32>,
    y: &Array2<f32>,
    lengths: &[usize],
) -> anyhow::Result<f32> {
    let n = src.nrows();
    let mut dec = Array2::<f32>::zeros((n, MAX_LEN));
    dec.column_mut(0).fill(START);
    let mut guess = Array2::<f32>::zeros((n, MAX_LEN));
    let longest = lengths.iter().copied().max().unwrap_or(0);
    for k in 0..longest {
        let probs = model.predict([src.view().into_dyn(), dec.view().into_dyn()])?;
        for i in (0..n).filter(|&i| k < lengths[i]) {
            let row = probs.slice(s![i, k, ..]);
            let best = (0..10)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            guess[[i, k]] = best as f32;
            if k + 1 < MAX_LEN {
                dec[[i, k + 1]] = (best + 1) as f32;
            }
        }
    }
    let right = (0..n)
        .filter(|&i| (0..lengths[i]).all(|k| guess[[i, k]] == y[[i, k]]))
        .count();
    Ok(right as f32 / n as f32)
}

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());

    let source = Input::new([None]);
    let encoded = Lstm::new(UNITS)
        .return_state(true)
        .call(&Embedding::new(11, 32).mask_zero(true).call(&source));
    let (h, c) = (encoded.output(1)?, encoded.output(2)?);
    let target = Input::new([None]);
    let decoded = Lstm::new(UNITS).return_sequences(true).call_many(&[
        &Embedding::new(12, 32).mask_zero(true).call(&target),
        &h,
        &c,
    ]);
    let outputs = Dense::new(10)
        .activation(Activation::Softmax)
        .call(&decoded);
    let mut model = Model::new(&[&source, &target], &outputs)?;

    let mut rng = StdRng::seed_from_u64(7);
    // validation sequences decide when to stop; the test sequences are only scored at the end
    let (val_src, _, val_y, val_len) = batch(&mut rng, 500);
    let (test_src, _, test_y, test_len) = batch(&mut rng, 1000);
    let started = Instant::now();
    for round in 1..=40 {
        // fresh sequences every round: there are far more than any run sees
        if let Some(&(_, lr)) = SCHEDULE.iter().find(|(from, _)| *from == round) {
            let weights: Vec<_> = match round {
                1 => Vec::new(),
                _ => model.get_weights()?.into_iter().map(|(_, w)| w).collect(),
            };
            compile(&mut model, &device, lr)?;
            if !weights.is_empty() {
                model.set_weights(&weights)?;
            }
        }
        let (src, dec, y, _) = batch(&mut rng, 4096);
        let opts = FitOptions::new()
            .epochs(1)
            .batch_size(64)
            .verbose(0)
            .seed(round);
        let history = model.fit([src.view().into_dyn(), dec.view().into_dyn()], &y, opts)?;
        let accuracy = greedy_accuracy(&mut model, &val_src, &val_y, &val_len)?;
        println!(
            "round {round:2}: loss {:.4}, teacher-forced step accuracy {:.3}, \
             validation sequences reversed {:.3} ({:.0?})",
            history.loss()[0],
            history.get("accuracy").map_or(f32::NAN, |a| a[0]),
            accuracy,
            started.elapsed()
        );
        if accuracy >= 0.97 {
            break;
        }
    }
    let accuracy = greedy_accuracy(&mut model, &test_src, &test_y, &test_len)?;
    println!("held-out test sequences reversed (greedy decoding): {accuracy:.3}");
    anyhow::ensure!(
        accuracy >= 0.95,
        "the encoder-decoder reversed {accuracy:.3} < 0.95"
    );
    Ok(())
}
