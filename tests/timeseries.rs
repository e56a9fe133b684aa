//! `timeseries_dataset_from_array`: Keras's windows and targets exactly (golden
//! `timeseries_windows`, shuffle off), its errors, shuffling, and the dataset in
//! `fit_dataset` / `predict_dataset` on both devices.

mod common;

use common::golden::{Golden, devices};
use ndarray::{Array1, Array2, ArrayD, Axis, arr1, concatenate};
use wgfit::Error;
use wgfit::data::{SequenceDataset, TimeseriesOptions, timeseries_dataset_from_array};
use wgfit::prelude::*;

fn options_of(case: &serde_json::Value) -> TimeseriesOptions {
    let mut o = TimeseriesOptions::new();
    let get = |k: &str| {
        case.get(k)
            .and_then(serde_json::Value::as_u64)
            .map(|v| v as usize)
    };
    if let Some(v) = get("sequence_stride") {
        o = o.sequence_stride(v);
    }
    if let Some(v) = get("sampling_rate") {
        o = o.sampling_rate(v);
    }
    if let Some(v) = get("batch_size") {
        o = o.batch_size(v);
    }
    if let Some(v) = get("start_index") {
        o = o.start_index(v);
    }
    if let Some(v) = get("end_index") {
        o = o.end_index(v);
    }
    o
}

/// Every batch of epoch 0, in order, joined: `(x, y, batch sizes)`.
fn all_batches(ds: &SequenceDataset) -> (ArrayD<f32>, ArrayD<f32>, Vec<usize>) {
    let batches: Vec<_> = ds.batches(0).iter().map(|b| ds.padded_batch(b)).collect();
    let sizes = batches.iter().map(|(x, _)| x.shape()[0]).collect();
    let xs: Vec<_> = batches.iter().map(|(x, _)| x.view()).collect();
    let ys: Vec<_> = batches.iter().map(|(_, y)| y.view()).collect();
    (
        concatenate(Axis(0), &xs).unwrap(),
        concatenate(Axis(0), &ys).unwrap(),
        sizes,
    )
}

#[test]
fn windows_targets_and_batches_are_exactly_keras_s() {
    let g = Golden::load("timeseries_windows");
    let cases = g.info["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let name = case["case"].as_str().unwrap();
        let data = g.tensor(&format!("data.{name}"));
        let length = case["sequence_length"].as_u64().unwrap() as usize;
        let targets = (!name.contains("no_targets")).then(|| g.tensor(&format!("targets.{name}")));
        let ds = timeseries_dataset_from_array(data, targets, length, options_of(case)).unwrap();
        let (x, y, sizes) = all_batches(&ds);
        let want: Vec<usize> = case["batch_sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(sizes, want, "{name}: batch sizes");
        assert_eq!(&x, g.tensor(&format!("x.{name}")), "{name}: windows");
        assert_eq!(ds.has_targets(), targets.is_some(), "{name}");
        if targets.is_some() {
            assert_eq!(&y, g.tensor(&format!("y.{name}")), "{name}: targets");
        }
    }
}

#[test]
fn bad_arguments_are_refused_as_keras_refuses_them() {
    let data = Array2::<f32>::zeros((20, 2));
    let make = |o: TimeseriesOptions, length: usize| {
        timeseries_dataset_from_array(&data, None::<Vec<f32>>, length, o)
    };
    let config = |r: wgfit::Result<SequenceDataset>, needle: &str| match r {
        Err(Error::Config(msg)) => assert!(msg.contains(needle), "{needle}: {msg}"),
        other => panic!("{needle}: {other:?}"),
    };
    let o = TimeseriesOptions::new;
    config(make(o().start_index(20), 3), "start_index=20");
    config(
        make(o().end_index(20), 3),
        "end_index=20 for data of length 20",
    );
    config(make(o().end_index(0), 3), "end_index must be higher than 0");
    config(
        make(o().start_index(5).end_index(5), 3),
        "higher than start_index",
    );
    config(make(o().sampling_rate(0), 3), "sampling_rate=0");
    config(make(o().sampling_rate(20), 3), "sampling_rate=20");
    config(make(o().sequence_stride(0), 3), "sequence_stride=0");
    config(make(o().sequence_stride(25), 3), "sequence_stride=25");
    config(make(o(), 0), "sequence_length=0");
    config(make(o().batch_size(0), 3), "batch_size=0");
    // Valid, but no window fits: 8 steps at rate 3 span 22 > 20.
    match make(o().sampling_rate(3), 8) {
        Err(Error::Empty { what, .. }) => assert!(what.contains("no window of 8 steps"), "{what}"),
        other => panic!("{other:?}"),
    }
    // With start_index, Keras's min(windows, len(targets)) can reach past the targets.
    let short = Array1::<f32>::zeros(10);
    match timeseries_dataset_from_array(&data, Some(&short), 3, o().start_index(4)) {
        Err(Error::Data(msg)) => assert!(msg.contains("targets has 10 entries"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let nan = Array1::from_shape_fn(20, |i| if i == 2 { f32::NAN } else { 0.0 });
    assert!(matches!(
        timeseries_dataset_from_array(&data, Some(&nan), 3, o()),
        Err(Error::NonFinite {
            what: "y",
            sample: 2,
            ..
        })
    ));
}

#[test]
fn shuffled_windows_are_each_seen_once_per_epoch_in_a_new_order() {
    let data: Vec<f32> = (0..60).map(|i| i as f32).collect();
    let o = TimeseriesOptions::new().batch_size(8).shuffle(true).seed(3);
    let ds = timeseries_dataset_from_array(&data, Some(&data), 5, o).unwrap();
    let plain = timeseries_dataset_from_array(&data, Some(&data), 5, o.shuffle(false)).unwrap();
    assert_eq!(ds.len(), 56);
    let order = |e: usize| ds.batches(e).concat();
    assert_ne!(order(0), order(1));
    assert_ne!(order(0), (0..56).collect::<Vec<_>>());
    for e in 0..2 {
        let mut seen = order(e);
        seen.sort_unstable();
        assert_eq!(seen, (0..56).collect::<Vec<_>>(), "epoch {e}");
    }
    // A window keeps its target whatever the order: window i starts at step i.
    let (x, y) = ds.padded_batch(&ds.batches(0)[0]);
    for (w, t) in x.outer_iter().zip(y.iter()) {
        assert_eq!(w[0], *t);
    }
    assert_eq!(plain.batches(0).concat(), (0..56).collect::<Vec<_>>());
}

/// A forecaster on windows of a noisy sine: the dataset trains as the windows stacked into
/// arrays do (same batches, shuffle off), and a dataset without targets predicts the same.
#[test]
fn windows_train_and_predict_as_the_stacked_arrays_on_each_device() {
    let series = Array2::from_shape_fn((97, 2), |(t, f)| ((t as f32) * 0.3 + f as f32).sin());
    let targets = series.column(0).slice(ndarray::s![6..]).to_owned();
    let o = TimeseriesOptions::new().batch_size(16).sampling_rate(2);
    let ds = timeseries_dataset_from_array(&series, Some(&targets), 3, o).unwrap();
    let inputs_only = timeseries_dataset_from_array(&series, None::<Vec<f32>>, 3, o).unwrap();
    let (x, y, _) = all_batches(&ds);
    assert_eq!(x.shape(), &[91, 3, 2]);
    assert_eq!(
        x[[1, 2, 1]],
        series[[1 + 4, 1]],
        "window 1, step 2 = data step 1 + 2 * 2"
    );
    for device in devices() {
        let model = || {
            let mut m = Sequential::new()
                .add(Lstm::new(4).input_shape([None, Some(2)]))
                .add(Dense::new(1))
                .seed(11);
            m.compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])
                .unwrap();
            m
        };
        let fit = FitOptions::new().epochs(2).verbose(0);
        let mut on_ds = model();
        let h_ds = on_ds.fit_dataset(&ds, fit.clone()).unwrap();
        let mut on_arrays = model();
        let h_arrays = on_arrays
            .fit(&x, &y, fit.clone().batch_size(16).shuffle(false))
            .unwrap();
        assert_eq!(h_ds.loss(), h_arrays.loss(), "{}", device.info());
        let p_ds = on_ds.predict_dataset(&inputs_only).unwrap();
        let p_arrays = on_arrays.predict_batched(&x, 16).unwrap();
        // Without targets every window that fits in the data is there: 93, not 91.
        assert_eq!(p_ds.shape(), &[93, 1]);
        assert_eq!(
            p_ds.slice(ndarray::s![..91, ..]).into_dyn(),
            p_arrays,
            "{}",
            device.info()
        );
        match on_ds.fit_dataset(&inputs_only, fit.clone()) {
            Err(Error::Config(msg)) => assert!(msg.contains("has no targets"), "{msg}"),
            other => panic!("{other:?}"),
        }
        assert!(on_ds.evaluate_dataset(&inputs_only).is_err());
    }
    assert_eq!(ds.padded_batch(&[0]).1, arr1(&[targets[0]]).into_dyn());
}
