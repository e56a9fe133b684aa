//! Variable-length sequences from files: long-form CSV (`read_csv_sequences`) and `.npz`
//! lists as `numpy.savez(f, *arrays)` writes them (`read_npz_sequences`), with errors naming
//! the file, the line or array, and what is wrong.

use std::path::PathBuf;

use ndarray::{Array2, arr2};
use wgfit::Error;
use wgfit::io::{read_csv_sequences, read_npz_sequences};
use wgfit::prelude::*;

/// A file of `text` in a fresh temp dir, named `name`.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgfit-seqfiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn problem<T: std::fmt::Debug>(r: wgfit::Result<T>) -> String {
    match r {
        Err(Error::File { path, problem, .. }) => format!("{}: {problem}", path.display()),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn long_form_csv_gives_one_sorted_sequence_per_id_in_order_of_appearance() {
    // Interleaved ids, unordered steps, steps from 1 for one id and 0 for the other, quotes
    // and spaces as a spreadsheet writes them.
    let path = file(
        "long.csv",
        "subject,t,\"acc x\",acc_y\ns2,1, 0.5,1\ns1,0,9,9\ns2,3,2.5,3\n\"s2\",2,1.5,2\ns1,1,-1e-3,8\n",
    );
    let seqs = read_csv_sequences(&path).unwrap();
    assert_eq!(seqs.ids, vec!["s2", "s1"]);
    assert_eq!(seqs.features, vec!["acc x", "acc_y"]);
    assert_eq!(seqs.series[0], arr2(&[[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]]));
    assert_eq!(seqs.series[1], arr2(&[[9.0, 9.0], [-1e-3, 8.0]]));
    // Straight into padding and a dataset.
    let x = pad_feature_sequences(&seqs.series, PadOptions::new()).unwrap();
    assert_eq!(x.shape(), &[2, 3, 2]);
    let ds = SequenceDataset::from_sequences(&seqs.series, vec![1usize, 0]).unwrap();
    assert_eq!(ds.len(), 2);
}

#[test]
fn csv_errors_name_the_file_the_line_and_the_problem() {
    let cases = [
        (
            "short_header.csv",
            "id,x\na,1\n",
            "line 1: the header has 2 columns",
        ),
        (
            "ragged.csv",
            "id,t,x,y\na,0,1,2\na,1,3\n",
            "line 3: 3 fields where the header has 4",
        ),
        (
            "text.csv",
            "id,t,x\na,0,1\na,1,abc\n",
            "line 3: value \"abc\" in column \"x\" is not a number",
        ),
        (
            "step.csv",
            "id,t,x\na,0.5,1\n",
            "line 2: step \"0.5\" (column \"t\") is not a whole number",
        ),
        (
            "dup.csv",
            "id,t,x\na,0,1\nb,0,1\na,0,2\n",
            "line 4: sequence \"a\" has step 0 twice (also on line 2)",
        ),
        (
            "gap.csv",
            "id,t,x\na,0,1\na,1,1\na,3,2\n",
            "sequence \"a\" jumps from step 1 (line 3) to step 3: step 2 is missing",
        ),
        ("empty.csv", "id,t,x\n", "no rows after the header"),
        (
            "blank.csv",
            "id,t,x\na,0,\n",
            "value \"\" in column \"x\" is not a number",
        ),
    ];
    for (name, text, want) in cases {
        let path = file(name, text);
        let msg = problem(read_csv_sequences(&path));
        assert!(
            msg.starts_with(&path.display().to_string()),
            "{name}: {msg}"
        );
        assert!(msg.contains(want), "{name}: {msg}");
    }
    let missing = std::env::temp_dir().join("wgfit-no-such-dir/none.csv");
    assert!(problem(read_csv_sequences(&missing)).contains("does not exist"));
}

#[test]
fn an_npz_written_by_numpy_savez_reads_in_numeric_order() {
    // np.savez(f, *seqs): arr_0 [3, 2] and arr_1 [1, 2] float64, then arr_2..arr_10 float32
    // of 2..10 steps (values 0, 1, 2, ...).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/savez_sequences.npz"
    );
    let seqs = read_npz_sequences(path).unwrap();
    let lengths: Vec<usize> = seqs.iter().map(|s| s.shape()[0]).collect();
    assert_eq!(
        lengths,
        vec![3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "arr_10 last, not after arr_1"
    );
    assert_eq!(
        seqs[0],
        arr2(&[[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]]).into_dyn()
    );
    assert_eq!(seqs[10][[9, 1]], 19.0);
    let ds = SequenceDataset::new(seqs, Array2::<f32>::zeros((11, 1))).unwrap();
    assert_eq!(ds.len(), 11);
}

#[test]
fn npz_errors_name_the_array_and_what_to_do() {
    let write = |name: &str, arrays: &[(&str, ndarray::ArrayD<f32>)]| {
        let path = file(name, "");
        let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&path).unwrap());
        for (n, a) in arrays {
            npz.add_array(*n, a).unwrap();
        }
        npz.finish().unwrap();
        path
    };
    let two = |t: usize, f: usize| Array2::<f32>::ones((t, f)).into_dyn();
    let path = write("named.npz", &[("x_train", two(2, 2))]);
    let msg = problem(read_npz_sequences(&path));
    assert!(msg.contains("numpy.savez(f, *sequences)"), "{msg}");
    let path = write("gap.npz", &[("arr_0", two(2, 2)), ("arr_2", two(3, 2))]);
    let err = read_npz_sequences(&path).unwrap_err();
    assert!(
        matches!(&err, Error::File { tensor: Some(t), .. } if t == "arr_1"),
        "{err:?}"
    );
    let path = write("ragged.npz", &[("arr_0", two(2, 2)), ("arr_1", two(3, 5))]);
    let err = read_npz_sequences(&path).unwrap_err();
    assert!(
        matches!(&err, Error::File { tensor: Some(t), .. } if t == "arr_1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("[3, 5]"), "{err}");
    let cube = ndarray::ArrayD::<f32>::zeros(ndarray::IxDyn(&[2, 2, 2]));
    let path = write("cube.npz", &[("arr_0", cube)]);
    assert!(problem(read_npz_sequences(&path)).contains("[2, 2, 2]"));
    let path = write("none.npz", &[]);
    assert!(problem(read_npz_sequences(&path)).contains("no arrays"));
}
