//! Strings to a trained model, as Keras's text classification tutorial: a `TextVectorization`
//! adapted on the training texts turns reviews into token ids (lowercased, punctuation
//! stripped, padded with 0), and Embedding(mask_zero) -> GRU -> Dense(sigmoid) learns their
//! sentiment, inside a `TextModel` whose `fit` / `evaluate` / `predict` take the strings; the
//! model is saved whole (`TextModel::save`) and loaded back (`TextModel::load`) to predict.
//!
//!     cargo run --release --example text_classifier
//!
//! Data: a generated corpus (no download): short reviews ("The plot was not really good!")
//! whose label is the adjective's sentiment, flipped by a negation before it in 40% of them.
//! The label is an XOR of two words, which no linear bag-of-words model represents; a model
//! that ignores the negation gets 60%. The test reviews use subjects never seen in training
//! (their words get the OOV id).

use anyhow::ensure;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

/// The test accuracy this example must reach: far above the 0.6 of a model that ignores the
/// negation, so the GRU must have learnt what "not" does (it reaches 1.0 on both devices).
const FLOOR: f32 = 0.9;

const POSITIVE: [&str; 7] = [
    "good",
    "great",
    "wonderful",
    "excellent",
    "fun",
    "lovely",
    "brilliant",
];
const NEGATIVE: [&str; 7] = [
    "bad", "awful", "boring", "terrible", "dull", "poor", "horrible",
];
const TRAIN_SUBJECTS: [&str; 6] = [
    "The film",
    "this movie",
    "The plot",
    "the acting",
    "This book",
    "The ending",
];
const TEST_SUBJECTS: [&str; 3] = ["Our dinner", "the café", "That concert"];
const VERBS: [&str; 4] = ["was", "is", "seemed", "felt"];
const INTENSIFIERS: [&str; 4] = ["really", "very", "so", "quite"];
const ENDINGS: [&str; 5] = [".", "!", "!!", "...", ", to be honest."];

/// `n` reviews about `subjects` and their labels `[n, 1]` (1 positive), drawn from `seed`.
fn reviews(n: usize, subjects: &[&'static str], seed: u64) -> (Vec<String>, Array2<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pick = |words: &[&'static str]| words[rng.random_range(0..words.len())];
    let (mut texts, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let positive = pick(&["+", "-"]) == "+";
        let negated = pick(&["y", "y", "n", "n", "n"]) == "y";
        let adjective = pick(if positive { &POSITIVE } else { &NEGATIVE });
        let mut words = vec![pick(subjects), pick(&VERBS)];
        if negated {
            words.push(pick(&["not", "never"]));
        }
        if pick(&["y", "n"]) == "y" {
            words.push(pick(&INTENSIFIERS));
        }
        texts.push(format!("{} {adjective}{}", words.join(" "), pick(&ENDINGS)));
        labels.push(f32::from(u8::from(positive != negated)));
    }
    (
        texts,
        Array2::from_shape_vec((n, 1), labels).expect("n labels"),
    )
}

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());
    set_random_seed(1);
    let (train, y_train) = reviews(600, &TRAIN_SUBJECTS, 1);
    let (test, y_test) = reviews(200, &TEST_SUBJECTS, 2);
    println!(
        "{} training and {} test reviews, e.g. {:?}",
        train.len(),
        test.len(),
        train[0]
    );

    let mut vectorizer = TextVectorization::new().max_tokens(100);
    vectorizer.adapt(&train)?;
    let vocabulary = vectorizer.vocabulary();
    println!(
        "vocabulary: {} ids, {:?} ...",
        vocabulary.len(),
        &vocabulary[..8]
    );

    let model = Sequential::new()
        .add(Embedding::new(vectorizer.vocabulary_size(), 16).mask_zero(true))
        .add(Gru::new(16))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    let mut model = TextModel::new(vectorizer, model)?;
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.01),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    model.fit(
        &train,
        &y_train,
        FitOptions::new().batch_size(32).epochs(12).verbose(0),
    )?;

    let accuracy = model
        .evaluate(&test, &y_test)?
        .get("accuracy")
        .unwrap_or(0.0);
    let probe = [
        "The film was not bad at all!",
        "this movie was never fun.",
        "The café: lovely!",
    ];
    for (text, p) in probe.iter().zip(model.predict(&probe)?.iter()) {
        println!("{p:.2}  {text}");
    }
    // The whole text model in one file: vocabulary, architecture, weights, optimizer.
    let path = std::env::temp_dir().join(format!("wgfit-reviews-{}.wgfit", std::process::id()));
    model.save(&path)?;
    let mut loaded = TextModel::load(&path, &device)?;
    std::fs::remove_file(&path)?;
    ensure!(
        loaded.predict(&probe)? == model.predict(&probe)?,
        "the model loaded from its file predicts otherwise"
    );
    println!("test accuracy: {accuracy:.3}");
    ensure!(
        accuracy >= FLOOR,
        "test accuracy {accuracy:.3} is below {FLOOR}"
    );
    Ok(())
}
