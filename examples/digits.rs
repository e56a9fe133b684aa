//! Real data: the UCI handwritten digits (1797 images of 8x8 pixels, classes 0-9), a held-out
//! test split of 20%, an MLP trained with Adam; prints the test accuracy.
//!
//!     cargo run --release --example digits
//!
//! Data: UCI "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak, 1998),
//! CC BY 4.0, as shipped in scikit-learn 1.9.1 (`examples/data/digits.csv.gz`).

use std::fs::File;

use flate2::read::GzDecoder;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use wgfit::prelude::*;

/// Pixels scaled to [0, 1] `[N, 8, 8]` and class ids `[N]`.
fn load() -> anyhow::Result<(ndarray::Array3<f32>, Array1<f32>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/digits.csv.gz");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(GzDecoder::new(File::open(path)?));
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record?;
        let values: Vec<f32> = record.iter().map(str::parse).collect::<Result<_, _>>()?;
        anyhow::ensure!(
            values.len() == 65,
            "a digits row has 64 pixels and a label, got {}",
            values.len()
        );
        pixels.extend(values[..64].iter().map(|p| p / 16.0));
        labels.push(values[64]);
    }
    let n = labels.len();
    Ok((
        ndarray::Array3::from_shape_vec((n, 8, 8), pixels)?,
        Array1::from(labels),
    ))
}

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());

    let (x, labels) = load()?;
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(1));
    let n_test = labels.len() / 5;
    let (test, train) = order.split_at(n_test);
    let y: Array2<f32> = to_categorical(&labels, 10)?;
    let (x_train, y_train) = (x.select(Axis(0), train), y.select(Axis(0), train));
    let (x_test, y_test) = (x.select(Axis(0), test), y.select(Axis(0), test));
    println!("{} training and {} test images", train.len(), test.len());

    let mut model = Sequential::new()
        .add(Flatten::new().input_shape([8, 8]))
        .add(Dense::new(64).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax));
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.003),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());

    let history = model.fit(
        &x_train,
        &y_train,
        FitOptions::new()
            .batch_size(32)
            .epochs(30)
            .validation_split(0.1)
            .verbose(2),
    )?;
    let plot = plot_path("digits_history.png");
    history.plot(&plot)?;
    history.plot(plot.with_extension("svg"))?;
    println!("loss and accuracy per epoch: {}", plot.display());
    let test_eval = model.evaluate(&x_test, &y_test)?;
    let accuracy = test_eval.get("accuracy").unwrap_or(0.0);
    println!(
        "test loss {:.4}, test accuracy {accuracy:.4}",
        test_eval.loss
    );
    anyhow::ensure!(
        accuracy >= 0.95,
        "test accuracy {accuracy:.4} is below 0.95"
    );
    Ok(())
}

/// Where the example writes its plots: `target/`, beside the build.
fn plot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name)
}
