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
//!     cargo run --release --example seq2seq -- agree   # the first rounds on the CPU and GPU

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

/// The encoder-decoder of the module's doc (weights from the model's seed, so the same on
/// every device).
fn build() -> anyhow::Result<Model> {
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
    Ok(Model::new(&[&source, &target], &outputs)?)
}

/// Trains `model` on `device` for up to `rounds` rounds of `per_round` fresh sequences (or
/// until 0.97 of the validation sequences are reversed); each round's loss.
fn train(
    model: &mut Model,
    device: &Device,
    (rounds, per_round): (u64, usize),
    rng: &mut StdRng,
    (val_src, val_y, val_len): (&Array2<f32>, &Array2<f32>, &[usize]),
) -> anyhow::Result<Vec<f32>> {
    let started = Instant::now();
    let mut losses = Vec::new();
    for round in 1..=rounds {
        // fresh sequences every round: there are far more than any run sees
        if let Some(&(_, lr)) = SCHEDULE.iter().find(|(from, _)| *from == round) {
            let weights: Vec<_> = match round {
                1 => Vec::new(),
                _ => model.get_weights()?.into_iter().map(|(_, w)| w).collect(),
            };
            compile(model, device, lr)?;
            if !weights.is_empty() {
                model.set_weights(&weights)?;
            }
        }
        let (src, dec, y, _) = batch(rng, per_round);
        let opts = FitOptions::new()
            .epochs(1)
            .batch_size(64)
            .verbose(0)
            .seed(round);
        let history = model.fit([src.view().into_dyn(), dec.view().into_dyn()], &y, opts)?;
        let accuracy = greedy_accuracy(model, val_src, val_y, val_len)?;
        losses.push(history.loss()[0]);
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
    Ok(losses)
}

/// `seq2seq agree`: the first rounds (of fewer sequences) on the CPU reference and on the
/// GPU from the same weights and data: their losses must agree to 1e-3 (a whole run on a
/// software GPU such as CI's lavapipe takes most of an hour; on a real one, run it whole).
fn agree() -> anyhow::Result<()> {
    let mut losses = Vec::new();
    for device in [Device::cpu(), Device::gpu()?] {
        println!("device: {}", device.info());
        let mut rng = StdRng::seed_from_u64(7);
        let (val_src, _, val_y, val_len) = batch(&mut rng, 100);
        let mut model = build()?;
        let val = (&val_src, &val_y, &val_len[..]);
        losses.push(train(&mut model, &device, (2, 512), &mut rng, val)?);
    }
    let (cpu, gpu) = (&losses[0], &losses[1]);
    for (round, (c, g)) in cpu.iter().zip(gpu).enumerate() {
        let err = (c - g).abs() / c.abs().max(1e-6);
        anyhow::ensure!(
            err <= 1e-3,
            "round {}: loss {g} on the GPU, {c} on the CPU (relative {err:.1e})",
            round + 1
        );
    }
    anyhow::ensure!(cpu.len() == 2 && gpu.len() == 2, "both ran two rounds");
    println!(
        "the GPU's losses equal the CPU's to 1e-3 over {} rounds",
        cpu.len()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("agree") {
        return agree();
    }
    let device = Device::auto()?;
    println!("device: {}", device.info());
    let mut model = build()?;
    let mut rng = StdRng::seed_from_u64(7);
    // validation sequences decide when to stop; the test sequences are only scored at the end
    let (val_src, _, val_y, val_len) = batch(&mut rng, 500);
    let (test_src, _, test_y, test_len) = batch(&mut rng, 1000);
    let val = (&val_src, &val_y, &val_len[..]);
    train(&mut model, &device, (40, 4096), &mut rng, val)?;
    let accuracy = greedy_accuracy(&mut model, &test_src, &test_y, &test_len)?;
    println!("held-out test sequences reversed (greedy decoding): {accuracy:.3}");
    anyhow::ensure!(
        accuracy >= 0.95,
        "the encoder-decoder reversed {accuracy:.3} < 0.95"
    );
    Ok(())
}
