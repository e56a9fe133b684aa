//! Getting data in: univariate series wherever multivariate ones go (`pad_feature_sequences`,
//! `SequenceDataset::from_series`), the ambiguous case refused with what to call, and the one
//! conversion (`IntoSequences`) taking what a user has.

mod common;

use common::golden::devices;
use ndarray::{Array1, Array2, ArrayD, ArrayView1, Axis, arr1};
use wgfit::Error;
use wgfit::data::IntoSequences;
use wgfit::prelude::*;

fn series(n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            (0..3 + (i * 7) % 11)
                .map(|t| ((i + t) as f32 * 0.37).sin())
                .collect()
        })
        .collect()
}

#[test]
fn univariate_series_pad_to_one_feature() {
    let s = series(5);
    let x = pad_feature_sequences(&s, PadOptions::new().padding(Padding::Post)).unwrap();
    let longest = s.iter().map(Vec::len).max().unwrap();
    assert_eq!(x.shape(), &[5, longest, 1]);
    for (i, seq) in s.iter().enumerate() {
        let got: Vec<f32> = x.slice(ndarray::s![i, ..seq.len(), 0]).to_vec();
        assert_eq!(&got, seq, "series {i}");
        assert!(
            x.slice(ndarray::s![i, seq.len().., 0])
                .iter()
                .all(|&v| v == 0.0)
        );
    }
    // The same as giving them [T, 1] arrays.
    let columns: Vec<Array2<f32>> = s
        .iter()
        .map(|v| Array1::from(v.clone()).insert_axis(Axis(1)))
        .collect();
    let y = pad_feature_sequences(&columns, PadOptions::new().padding(Padding::Post)).unwrap();
    assert_eq!(x, y);
    // A 3-D "sequence" is no sequence: named, not a panic.
    let cube = vec![ArrayD::<f32>::zeros(ndarray::IxDyn(&[2, 2, 2]))];
    match pad_feature_sequences(cube, PadOptions::new()) {
        Err(Error::Data(msg)) => assert!(msg.contains("sequence 0 has shape [2, 2, 2]"), "{msg}"),
        other => panic!("{other:?}"),
    }
    match pad_sequences(&columns, PadOptions::new()) {
        Err(Error::Data(msg)) => assert!(msg.contains("call pad_feature_sequences"), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn values_given_as_token_ids_are_refused_with_what_to_call() {
    let s = series(4);
    let err = SequenceDataset::from_sequences(&s, vec![0usize, 1, 0, 1]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Data(_)), "{err:?}");
    assert!(
        msg.contains("sequence 0, step 1") && msg.contains("SequenceDataset::from_series"),
        "{msg}"
    );
    // Whole numbers are ids, as before.
    let ids = vec![vec![1.0, 2.0, 3.0], vec![4.0]];
    let ds = SequenceDataset::from_sequences(&ids, vec![0usize, 1]).unwrap();
    assert_eq!(ds.padded_batch(&[0, 1]).0.shape(), &[2, 3]);
    // And as series they gain the feature axis.
    let ds = SequenceDataset::from_series(&ids, vec![0usize, 1]).unwrap();
    assert_eq!(ds.padded_batch(&[0, 1]).0.shape(), &[2, 3, 1]);
}

/// The wall: a masked LSTM on univariate series. A dataset of series trains exactly as
/// the same series padded to `[N, T, 1]` (one batch, so one padding), on each device; the
/// token-id reading of the same series says at fit time what to call.
#[test]
fn a_dataset_of_univariate_series_trains_a_masked_lstm_like_padded_arrays() {
    let s: Vec<Vec<f32>> = series(6)
        .into_iter()
        .map(|v| v.into_iter().map(|x| x + 2.0).collect())
        .collect();
    let labels = vec![0usize, 1, 0, 1, 1, 0];
    let ds = SequenceDataset::from_series(&s, &labels)
        .unwrap()
        .batch_size(6)
        .shuffle(false);
    let x = pad_feature_sequences(&s, PadOptions::new().padding(Padding::Post)).unwrap();
    let y = Array1::from_iter(labels.iter().map(|&c| c as f32));
    for device in devices() {
        let model = || {
            let inputs = Input::new([None, Some(1)]);
            let masked = Masking::new(0.0).call(&inputs);
            let h = Lstm::new(3).call(&masked);
            let out = Dense::new(2).activation(Activation::Softmax).call(&h);
            let mut m = Model::new(&inputs, &out).unwrap().seed(4);
            m.compile(
                &device,
                Optimizer::adam(),
                Loss::SparseCategoricalCrossentropy,
                &[],
            )
            .unwrap();
            m
        };
        let opts = FitOptions::new().epochs(3).verbose(0);
        let on_ds = model().fit_dataset(&ds, opts.clone()).unwrap();
        let on_arrays = model()
            .fit(&x, &y, opts.clone().batch_size(6).shuffle(false))
            .unwrap();
        // Bit for bit on the CPU; the GPU's arrays path gathers resident rows, its sums may
        // round in another order.
        for (a, b) in on_ds.loss().iter().zip(on_arrays.loss()) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs(),
                "{}: {a} vs {b}",
                device.info()
            );
        }
        // Integer-valued series read as ids: the rank error names the fix.
        let ids: Vec<Vec<f32>> = s
            .iter()
            .map(|v| v.iter().map(|x| x.round()).collect())
            .collect();
        let as_ids = SequenceDataset::from_sequences(&ids, &labels).unwrap();
        let msg = model()
            .fit_dataset(&as_ids, opts.clone())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("SequenceDataset::from_series"), "{msg}");
    }
}

#[test]
fn every_container_a_user_has_gives_the_same_padding() {
    let s = series(3);
    let want = pad_sequences(&s, PadOptions::new()).unwrap();
    let slices: Vec<&[f32]> = s.iter().map(Vec::as_slice).collect();
    let arrays: Vec<Array1<f32>> = s.iter().map(|v| Array1::from(v.clone())).collect();
    let views: Vec<ArrayView1<f32>> = arrays.iter().map(|a| a.view()).collect();
    let dynamic: Vec<ArrayD<f32>> = arrays.iter().map(|a| a.clone().into_dyn()).collect();
    assert_eq!(pad_sequences(&slices, PadOptions::new()).unwrap(), want);
    assert_eq!(
        pad_sequences(slices.as_slice(), PadOptions::new()).unwrap(),
        want
    );
    assert_eq!(pad_sequences(&arrays, PadOptions::new()).unwrap(), want);
    assert_eq!(pad_sequences(&views, PadOptions::new()).unwrap(), want);
    assert_eq!(
        pad_sequences(views.clone(), PadOptions::new()).unwrap(),
        want
    );
    assert_eq!(pad_sequences(&dynamic, PadOptions::new()).unwrap(), want);
    assert_eq!(
        pad_sequences(dynamic.clone(), PadOptions::new()).unwrap(),
        want
    );
    assert_eq!(pad_sequences(s.clone(), PadOptions::new()).unwrap(), want);
    // A non-contiguous view (every other step) is read as it is, not as its memory.
    let wide = Array2::from_shape_fn((6, 2), |(t, f)| (10 * t + f) as f32);
    let strided = wide.slice(ndarray::s![..;2, ..]);
    let cols = wide.t();
    let x = pad_feature_sequences([strided, cols], PadOptions::new());
    match x {
        Err(Error::Data(msg)) => assert!(msg.contains("sequence 1 has 6 features"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let x = pad_feature_sequences([strided], PadOptions::new()).unwrap();
    assert_eq!(
        x.slice(ndarray::s![0, .., 0]).to_vec(),
        vec![0.0, 20.0, 40.0]
    );
    let (seqs, n) = ((&dynamic).into_sequences(), dynamic.len());
    assert_eq!(seqs.len(), n);
    assert_eq!(
        SequenceDataset::from_series(dynamic, arr1(&[0.0, 1.0, 0.0]))
            .unwrap()
            .len(),
        3
    );
}

/// The README's "Getting data in" block, line for line (compiled, not run: it reads files).
#[allow(dead_code, unused_variables)]
fn readme_getting_data_in(
    series: Vec<Vec<f32>>,
    labels: Vec<usize>,
    data: ndarray::Array2<f32>,
    target: ndarray::Array1<f32>,
    model: &mut Model,
) -> wgfit::Result<()> {
    use ndarray::s;
    use wgfit::io::read_ts;
    // Univariate series ([T] of values) become [T, 1]: what Masking + an RNN takes.
    let x = pad_feature_sequences(&series, PadOptions::new())?; // [N, T_max, 1]
    let train = SequenceDataset::from_series(&series, &labels)?; // per-batch padding
    let ts = read_ts("Gesture_TRAIN.ts")?; // UCR/UEA archive
    let train = SequenceDataset::from_sequences(&ts.series, &ts.labels)?; // [T_i, D] each
    let long = read_csv_sequences("steps.csv")?; // header; id, step, features... per row
    let train = SequenceDataset::from_sequences(&long.series, &labels)?; // long.ids: the ids
    let seqs = read_npz_sequences("seqs.npz")?; // np.savez(f, *arrays): arr_0, arr_1, ...
    let opts = TimeseriesOptions::new().batch_size(64);
    let windows = timeseries_dataset_from_array(
        data.slice(s![..-24, ..]),
        Some(&target.slice(s![24..])),
        24,
        opts,
    )?;
    model.fit_dataset(&windows, FitOptions::new().epochs(10))?;
    Ok(())
}
