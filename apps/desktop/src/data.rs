//! The data sets the app trains on: the shipped Japanese Vowels (sequences `[N, 29, 12]`,
//! post-padded with zeros for a masked LSTM) and digits (`[N, 8, 8]` images for an MLP), or a
//! user's file: a `.npz` with arrays `x` and `y` (class ids), or a CSV of numbers whose last
//! column is the class id.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, ensure};
use flate2::read::GzDecoder;
use ndarray::{Array1, Array2, ArrayD, Axis};
use wgfit::prelude::*;

/// What kind of model a data set gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `[N, T, F]`, zero post-padding: Masking -> LSTM(64) -> Dense(softmax).
    Sequences,
    /// Anything else, flattened to `[N, F]`: Dense(64, relu) -> Dense(softmax).
    Flat,
}

/// A training and a test split, labels as class ids `0..classes`.
pub struct Data {
    pub name: String,
    pub kind: Kind,
    pub classes: usize,
    pub x_train: ArrayD<f32>,
    pub y_train: Array1<f32>,
    pub x_test: ArrayD<f32>,
    pub y_test: Array1<f32>,
}

/// The repository's `examples/data` folder.
fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
}

/// UCI Japanese Vowels: 270 training and 370 test utterances of 7 to 29 steps of 12
/// features, standardised with the training set's statistics, padded to 29 steps.
pub fn japanese_vowels() -> anyhow::Result<Data> {
    let read = |name: &str| -> anyhow::Result<(Vec<Array2<f32>>, Array1<f32>)> {
        let ts = read_ts(shipped(name))?;
        Ok((ts.series, ts.labels.iter().map(|&id| id as f32).collect()))
    };
    let (mut train, y_train) = read("JapaneseVowels_TRAIN.ts")?;
    let (mut test, y_test) = read("JapaneseVowels_TEST.ts")?;
    let rows = train.iter().flat_map(|s| s.rows().into_iter());
    let n = train.iter().map(Array2::nrows).sum::<usize>() as f32;
    let mean = rows.fold(Array1::<f32>::zeros(12), |a, r| a + r) / n;
    let var = train
        .iter()
        .flat_map(|s| s.rows().into_iter())
        .fold(Array1::<f32>::zeros(12), |a, r| {
            a + (&r - &mean).mapv(|d| d * d)
        })
        / n;
    let std = var.mapv(f32::sqrt);
    for s in train.iter_mut().chain(test.iter_mut()) {
        *s = (&*s - &mean) / &std;
    }
    let longest = train
        .iter()
        .chain(&test)
        .map(Array2::nrows)
        .max()
        .unwrap_or(1);
    let pad = |s: &[Array2<f32>]| -> wgfit::Result<ArrayD<f32>> {
        let views: Vec<_> = s.iter().map(|a| a.view()).collect();
        let opts = PadOptions::new().padding(Padding::Post).maxlen(longest);
        Ok(pad_feature_sequences(&views[..], opts)?.into_dyn())
    };
    Ok(Data {
        name: "Japanese Vowels (masked LSTM)".into(),
        kind: Kind::Sequences,
        classes: 9,
        x_train: pad(&train)?,
        y_train,
        x_test: pad(&test)?,
        y_test,
    })
}

/// UCI digits: 1797 images of 8x8 pixels scaled to [0, 1]; every fifth image is held out.
pub fn digits() -> anyhow::Result<Data> {
    let file = File::open(shipped("digits.csv.gz"))?;
    let (x, y) = read_csv(
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(GzDecoder::new(file)),
    )?;
    let x = (x / 16.0)
        .into_shape_with_order((y.len(), 8, 8))?
        .into_dyn();
    split("digits (MLP)".into(), Kind::Flat, x, y)
}

/// A user's file: `.npz` with `x` and `y`, or a CSV (no header) whose last column is the
/// class id. A 3-D `x` is taken as zero-post-padded sequences for the masked LSTM.
pub fn user_file(path: &Path) -> anyhow::Result<Data> {
    let name = path
        .file_name()
        .map_or("data".into(), |n| n.to_string_lossy().into_owned());
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let (x, y) = if is_npz {
        let x = wgfit::io::read_npz(path, "x")?;
        let y = wgfit::io::read_npz(path, "y")?;
        ensure!(
            y.ndim() == 1,
            "{name}: y must be 1-D class ids, got shape {:?}",
            y.shape()
        );
        (x, y.into_dimensionality()?)
    } else {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)?;
        let (x, y) = read_csv(reader).with_context(|| format!("reading {name}"))?;
        (x.into_dyn(), y)
    };
    ensure!(
        x.ndim() >= 2 && x.shape()[0] == y.len(),
        "{name}: x {:?} and y of {} labels",
        x.shape(),
        y.len()
    );
    ensure!(
        y.len() >= 5,
        "{name}: {} samples; at least 5 are needed for a test split",
        y.len()
    );
    ensure!(
        y.iter().all(|&c| c >= 0.0 && c.fract() == 0.0),
        "{name}: labels must be class ids 0, 1, 2..."
    );
    let kind = if x.ndim() == 3 {
        Kind::Sequences
    } else {
        Kind::Flat
    };
    split(name, kind, x, y)
}

/// Rows of numbers, the last one a class id: the features `[N, F]` and the ids `[N]`.
fn read_csv<R: std::io::Read>(
    mut reader: csv::Reader<R>,
) -> anyhow::Result<(Array2<f32>, Array1<f32>)> {
    let (mut x, mut y, mut width) = (Vec::new(), Vec::new(), None);
    for (row, record) in reader.records().enumerate() {
        let values: Vec<f32> = record?
            .iter()
            .map(|v| {
                v.trim()
                    .parse::<f32>()
                    .with_context(|| format!("row {}: {v:?} is not a number", row + 1))
            })
            .collect::<anyhow::Result<_>>()?;
        ensure!(
            values.len() >= 2,
            "row {}: features and a class id are needed",
            row + 1
        );
        let w = *width.get_or_insert(values.len());
        ensure!(
            values.len() == w,
            "row {}: {} columns, the first row has {w}",
            row + 1,
            values.len()
        );
        x.extend_from_slice(&values[..w - 1]);
        y.push(values[w - 1]);
    }
    let n = y.len();
    Ok((
        Array2::from_shape_vec((n, width.unwrap_or(1) - 1), x)?,
        Array1::from(y),
    ))
}

/// The most classes a data set may have: labels are ids 0..classes, and the model's last
/// Dense has one unit per class (a label of 1e9 in a user's CSV must not ask for 1e9 units).
const MAX_CLASSES: usize = 10_000;

/// Every fifth sample to the test split; the number of classes from the largest id.
fn split(name: String, kind: Kind, x: ArrayD<f32>, y: Array1<f32>) -> anyhow::Result<Data> {
    // The MLP takes each sample flattened.
    let x = match kind {
        Kind::Flat => {
            let (n, f) = (x.shape()[0], x.len() / x.shape()[0].max(1));
            let flat: Vec<f32> = x.iter().copied().collect();
            ArrayD::from_shape_vec(vec![n, f], flat).expect("n * f values")
        }
        Kind::Sequences => x,
    };
    let (test, train): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|i| i % 5 == 0);
    let largest = y.iter().fold(0.0f32, |a, &b| a.max(b));
    anyhow::ensure!(
        y.iter().all(|&v| v >= 0.0 && v.fract() == 0.0) && largest < MAX_CLASSES as f32,
        "{name}: labels must be class ids 0..{MAX_CLASSES} (whole numbers), the largest is {largest}"
    );
    let classes = largest as usize + 1;
    Ok(Data {
        name,
        kind,
        classes,
        x_train: x.select(Axis(0), &train),
        y_train: y.select(Axis(0), &train),
        x_test: x.select(Axis(0), &test),
        y_test: y.select(Axis(0), &test),
    })
}
