//! Real variable-length data: UCI Japanese Vowels (9 speakers, 12 features per step, 7 to 29
//! steps). Masking + LSTM trained on length-bucketed batches, each padded only to its own
//! longest utterance; prints the test accuracy (it must reach 0.95) and the padded steps that
//! bucketing saved against padding everything to the longest utterance. With `bigru`, the
//! recurrent layer is a Bidirectional GRU (sum of the two directions' final states) instead.
//!
//!     cargo run --release --example japanese_vowels
//!     cargo run --release --example japanese_vowels -- bigru
//!
//! Data: UCI "Japanese Vowels" (M. Kudo, J. Toyama, M. Shimbo, 1999), CC BY 4.0, as shipped in
//! aeon 1.6.0 (`examples/data/JapaneseVowels_{TRAIN,TEST}.ts`).

use anyhow::{Context, ensure};
use ndarray::{Array1, Array2, ArrayD};
use wgfit::prelude::*;

/// The shipped archive file `name`: `[T, 12]` utterances and their speakers as class ids 0-8
/// (`wgfit::io::read_ts` maps the file's labels 1-9 in `@classLabel`'s order).
fn read(name: &str) -> wgfit::Result<(Vec<Array2<f32>>, Vec<f32>)> {
    let ts = read_ts(format!(
        "{}/examples/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))?;
    Ok((ts.series, ts.labels.iter().map(|&id| id as f32).collect()))
}

/// Standardises every feature with the training set's mean and deviation.
fn standardise(train: &mut [Array2<f32>], test: &mut [Array2<f32>]) {
    let rows: Vec<_> = train
        .iter()
        .flat_map(|s| s.rows().into_iter().map(|r| r.to_owned()))
        .collect();
    let n = rows.len() as f32;
    let mean = rows.iter().fold(Array1::<f32>::zeros(12), |a, r| a + r) / n;
    let var = rows.iter().fold(Array1::<f32>::zeros(12), |a, r| {
        a + (r - &mean).mapv(|d| d * d)
    }) / n;
    let std = var.mapv(f32::sqrt);
    for s in train.iter_mut().chain(test.iter_mut()) {
        *s = (&*s - &mean) / &std;
    }
}

/// Masking -> LSTM(64), or (`bigru`) Masking -> Bidirectional(GRU(32), sum): each direction
/// reads the whole utterance, the backward one from its last real step (the mask keeps
/// pre- and post-padding alike).
fn recurrent(bigru: bool, masked: &Node) -> Node {
    if bigru {
        Bidirectional::new(Gru::new(32))
            .merge_mode(MergeMode::Sum)
            .call(masked)
    } else {
        Lstm::new(64).call(masked)
    }
}

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());
    let bigru = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("bigru") => true,
        Some(other) => anyhow::bail!("unknown variant {other:?}: none (LSTM) or `bigru`"),
    };

    let (mut x_train, y_train) = read("JapaneseVowels_TRAIN.ts")?;
    let (mut x_test, y_test) = read("JapaneseVowels_TEST.ts")?;
    standardise(&mut x_train, &mut x_test);
    let lengths = x_train.iter().chain(&x_test).map(|s| s.nrows());
    let (min, max) = lengths.fold((usize::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    println!(
        "{} training and {} test utterances, {min} to {max} steps of 12 features",
        x_train.len(),
        x_test.len()
    );

    let dataset = |xs: Vec<Array2<f32>>, ys: Vec<f32>| -> wgfit::Result<SequenceDataset> {
        let xs: Vec<ArrayD<f32>> = xs.into_iter().map(Array2::into_dyn).collect();
        Ok(SequenceDataset::new(xs, Array1::from(ys).into_dyn())?
            .batch_size(32)
            .seed(7))
    };
    let train = dataset(x_train, y_train)?;
    let test = dataset(x_test, y_test)?.shuffle(false);

    let report = train.padding_report();
    println!(
        "bucketing pads each batch to its own longest utterance: {} time steps per epoch instead of {} with global padding ({:.0}% fewer; {} are real steps)",
        report.batched,
        report.global,
        100.0 * (1.0 - report.batched as f64 / report.global as f64),
        report.real
    );

    let inputs = Input::new([None, Some(12)]);
    let masked = Masking::new(0.0).call(&inputs);
    let outputs = Dense::new(9)
        .activation(Activation::Softmax)
        .call(&recurrent(bigru, &masked));
    let mut model = Model::new(&inputs, &outputs)?;
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.005),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());

    // As the dataset's users do in Keras, the test speakers double as validation data, so the
    // plot shows how well each epoch generalises.
    let history = model.fit_dataset(
        &train,
        FitOptions::new()
            .epochs(40)
            .verbose(2)
            .validation_dataset(test.clone()),
    )?;
    let name = if bigru {
        "target/japanese_vowels_bigru_history.png"
    } else {
        "target/japanese_vowels_history.png"
    };
    let plot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    // `target/` is elsewhere when CARGO_TARGET_DIR points away from the checkout.
    std::fs::create_dir_all(plot.parent().context("a file in a folder")?)?;
    history.plot(&plot)?;
    history.plot(plot.with_extension("svg"))?;
    println!("loss and accuracy per epoch: {}", plot.display());
    let result = model.evaluate_dataset(&test)?;
    let accuracy = result.get("accuracy").unwrap_or(0.0);
    println!("test loss {:.4}, test accuracy {accuracy:.4}", result.loss);
    ensure!(
        accuracy >= 0.95,
        "test accuracy {accuracy:.4} is below 0.95"
    );
    Ok(())
}
