//! Bad input is a typed error naming what and where; the rows of the README's "Errors and
//! guarantees" table not already asserted beside their feature (training.rs, sequences.rs,
//! shape.rs, reliability.rs) are asserted here.

use ndarray::{Array1, Array2, Array3, arr1, arr2};
use wgfit::prelude::*;

fn dense_model() -> Sequential {
    let mut m = Sequential::new()
        .add(Flatten::new().input_shape([3, 4]))
        .add(Dense::new(3).activation(Activation::Softmax));
    m.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::SparseCategoricalCrossentropy,
        &[Metric::Accuracy],
    )
    .unwrap();
    m
}

#[test]
fn a_batch_of_the_wrong_rank_names_both_ranks() {
    let err = dense_model()
        .fit(
            &Array2::<f32>::zeros((5, 12)),
            &Array1::<f32>::zeros(5),
            FitOptions::new().verbose(0),
        )
        .unwrap_err();
    let Error::Shape(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.layer.as_deref(), Some("flatten"));
    assert_eq!(e.actual, vec![5, 12]);
    assert!(e.reason.unwrap().contains("rank 2 where rank 3"));
}

#[test]
fn a_negative_token_id_is_named_with_its_batch_sample_and_step() {
    let mut m = Sequential::new()
        .add(Embedding::new(5, 2))
        .add(Lstm::new(2))
        .add(Dense::new(1));
    m.compile(
        &Device::cpu(),
        Optimizer::adam(),
        Loss::MeanSquaredError,
        &[],
    )
    .unwrap();
    let x = arr2(&[[1.0f32, 2.0], [3.0, -1.0]]);
    match m.predict(&x).unwrap_err() {
        // All of x is checked before the first batch: the sample is its index in x.
        Error::Token {
            batch: None,
            sample: 1,
            step: 1,
            id,
            vocab: 5,
        } => assert_eq!(id, -1.0),
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_nan_label_names_the_sample_and_says_it_is_a_label() {
    let mut y = Array1::<f32>::zeros(4);
    y[2] = f32::NAN;
    match dense_model()
        .fit(
            &Array3::<f32>::zeros((4, 3, 4)),
            &y,
            FitOptions::new().verbose(0),
        )
        .unwrap_err()
    {
        Error::NonFinite {
            what: "y",
            batch: None,
            sample: 2,
        } => {}
        e => panic!("{e:?}"),
    }
}

#[test]
fn an_empty_sequence_dataset_is_refused() {
    match SequenceDataset::new(
        Vec::<ndarray::ArrayD<f32>>::new(),
        Array1::<f32>::zeros(0).into_dyn(),
    )
    .unwrap_err()
    {
        Error::Empty { sample: None, .. } => {}
        e => panic!("{e:?}"),
    }
}

#[test]
fn predicting_with_a_model_that_was_never_compiled_says_so() {
    let mut m = Sequential::new().add(Dense::new(1));
    match m.predict(&arr2(&[[1.0f32]])).unwrap_err() {
        Error::Config(msg) => assert!(msg.contains("not compiled"), "{msg}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_weights_file_of_another_dtype_names_the_tensor() {
    use safetensors::tensor::{Dtype, TensorView};
    let mut m = dense_model();
    let dir = std::env::temp_dir().join(format!("wgfit-dtype-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f64.safetensors");
    let kernel = vec![0u8; 12 * 3 * 8];
    let bias = vec![0u8; 3 * 4];
    let views = vec![
        (
            "layers.1.dense.kernel".to_string(),
            TensorView::new(Dtype::F64, vec![12, 3], &kernel).unwrap(),
        ),
        (
            "layers.1.dense.bias".to_string(),
            TensorView::new(Dtype::F32, vec![3], &bias).unwrap(),
        ),
    ];
    safetensors::serialize_to_file(views, None, &path).unwrap();
    match m.load_weights(&path).unwrap_err() {
        Error::File {
            tensor, problem, ..
        } => {
            assert_eq!(tensor.as_deref(), Some("layers.1.dense.kernel"));
            assert!(problem.contains("F64"), "{problem}");
        }
        e => panic!("{e:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn to_categorical_names_a_label_that_is_not_a_class() {
    match to_categorical(&arr1(&[0.0f32, 2.5]), 3).unwrap_err() {
        Error::Label {
            batch: None,
            sample: 1,
            label,
            classes: 3,
        } => assert_eq!(label, 2.5),
        e => panic!("{e:?}"),
    }
}

#[test]
fn initializer_parameters_that_cannot_be_sampled_are_a_config_error_naming_them() {
    use wgfit::Initializer;
    let compile = |kernel: Initializer, bias: Initializer| {
        let mut m = Sequential::new().add(
            Dense::new(2)
                .kernel_initializer(kernel)
                .bias_initializer(bias)
                .input_shape([3]),
        );
        m.compile(
            &Device::cpu(),
            Optimizer::sgd(),
            Loss::MeanSquaredError,
            &[],
        )
    };
    let uniform = |min, max| Initializer::Uniform { min, max };
    let normal = |mean, stddev| Initializer::RandomNormal { mean, stddev };
    let bad = [
        (uniform(0.5, 0.5), "min 0.5, max 0.5"),
        (uniform(1.0, -1.0), "min 1, max -1"),
        (uniform(f32::NAN, 1.0), "min NaN, max 1"),
        (uniform(0.0, f32::INFINITY), "min 0, max inf"),
        (uniform(-f32::MAX, f32::MAX), "max - min"),
        (normal(0.0, -0.05), "stddev -0.05"),
        (normal(0.0, f32::NAN), "stddev NaN"),
        (normal(f32::INFINITY, 1.0), "mean inf"),
    ];
    for (init, says) in bad {
        for (role, (kernel, bias)) in [
            ("kernel_initializer", (init, Initializer::Zeros)),
            ("bias_initializer", (Initializer::Zeros, init)),
        ] {
            match compile(kernel, bias) {
                Err(Error::Config(m)) => {
                    assert!(m.contains(&format!("Dense(2) {role}")), "{m}");
                    assert!(m.contains(says), "{init:?}: {m}");
                }
                other => panic!("{init:?} as {role}: expected a config error, got {other:?}"),
            }
        }
    }
    // Keras's defaults and a zero stddev are fine.
    assert!(compile(uniform(-0.05, 0.05), normal(1.0, 0.0)).is_ok());
}

#[test]
fn op_shape_errors_report_the_tensor_that_is_wrong() {
    use wgfit::ops::{gather::gather_rows, masked_reduce::masked_scale};
    let device = Device::cpu();
    let shape_err = |r: wgfit::Result<Tensor>| match r {
        Err(Error::Shape(e)) => *e,
        other => panic!("expected a shape error, got {other:?}"),
    };
    // A scalar src: the error shows src's dims, not idx's.
    let scalar = Tensor::from_vec(&device, Vec::<usize>::new(), vec![1.0]).unwrap();
    let idx = Tensor::from_u32(&device, [2], vec![0, 0]).unwrap();
    let e = shape_err(gather_rows(&scalar, &idx));
    assert_eq!(e.actual, Vec::<usize>::new(), "{e}");
    assert!(e.reason.as_deref().unwrap().contains("src"), "{e}");
    let src = Tensor::zeros(&device, [3, 2]).unwrap();
    let idx2 = Tensor::from_u32(&device, [1, 2], vec![0, 1]).unwrap();
    let e = shape_err(gather_rows(&src, &idx2));
    assert_eq!(e.actual, vec![1, 2], "{e}");
    assert!(e.reason.as_deref().unwrap().contains("idx"), "{e}");

    // A total of two values: the error shows total's dims, not the mask's.
    let x = Tensor::zeros(&device, [2, 3]).unwrap();
    let mask = Tensor::zeros(&device, [2]).unwrap();
    let total = Tensor::zeros(&device, [2]).unwrap();
    let e = shape_err(masked_scale(&x, &mask, &total));
    assert_eq!((&e.expected, &e.actual), (&vec![Some(1)], &vec![2]), "{e}");
    assert!(e.reason.as_deref().unwrap().contains("total"), "{e}");
    let one = Tensor::zeros(&device, [1]).unwrap();
    let e = shape_err(masked_scale(
        &x,
        &Tensor::zeros(&device, [3]).unwrap(),
        &one,
    ));
    assert_eq!((&e.expected, &e.actual), (&vec![Some(2)], &vec![3]), "{e}");
    assert!(e.reason.as_deref().unwrap().contains("mask"), "{e}");
}

/// A fresh directory under the system's temp directory, for one test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wgfit-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The problem of an `Error::File` about `path`, or a panic naming what came instead.
fn file_problem(result: Result<impl std::fmt::Debug>, path: &std::path::Path) -> String {
    match result {
        Err(Error::File {
            path: p, problem, ..
        }) => {
            assert_eq!(p, path, "the error names the path the user gave");
            problem
        }
        other => panic!("expected Error::File about {}: {other:?}", path.display()),
    }
}

#[test]
fn reading_a_missing_file_or_a_directory_names_the_path() {
    let dir = temp_dir("read-errors");
    let missing = dir.join("missing.safetensors");
    let mut m = dense_model();
    let problem = file_problem(m.load_weights(&missing), &missing);
    assert!(problem.contains("No such file"), "{problem}");
    let message = m.load_weights(&missing).unwrap_err().to_string();
    assert!(message.contains("missing.safetensors"), "{message}");
    let problem = file_problem(m.load_weights(&dir), &dir);
    assert!(problem.contains("is a directory"), "{problem}");
    let problem = file_problem(m.load_checkpoint(&dir), &dir);
    assert!(problem.contains("is a directory"), "{problem}");
    let problem = file_problem(m.load_checkpoint(&missing), &missing);
    assert!(problem.contains("No such file"), "{problem}");

    let npy = dir.join("x.npy");
    let problem = file_problem(wgfit::io::read_npy(&npy), &npy);
    assert!(problem.contains("No such file"), "{problem}");
    let problem = file_problem(wgfit::io::read_npy(&dir), &dir);
    assert!(problem.contains("is a directory"), "{problem}");
    let npz = dir.join("data.npz");
    let problem = file_problem(wgfit::io::read_npz(&npz, "x"), &npz);
    assert!(problem.contains("No such file"), "{problem}");
    let problem = file_problem(wgfit::io::read_npz(&dir, "x"), &dir);
    assert!(problem.contains("is a directory"), "{problem}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_failed_save_names_the_path_and_leaves_no_temporary_file() {
    let dir = temp_dir("save-errors");
    let m = dense_model();
    let entries = |d: &std::path::Path| -> Vec<_> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    };

    // A path that is a directory: the temporary file would sit beside it, as `target.tmp`.
    let target = dir.join("target");
    std::fs::create_dir(&target).unwrap();
    let problem = file_problem(m.save_weights(&target), &target);
    assert!(problem.contains("is a directory"), "{problem}");
    let problem = file_problem(m.save_checkpoint(&target, 1), &target);
    assert!(problem.contains("is a directory"), "{problem}");
    assert_eq!(entries(&dir), vec![std::ffi::OsString::from("target")]);
    assert!(entries(&target).is_empty());

    // A directory that does not exist is named as such.
    let orphan = dir.join("no-such-dir").join("w.safetensors");
    let problem = file_problem(m.save_weights(&orphan), &orphan);
    assert!(problem.contains("does not exist"), "{problem}");
    assert!(problem.contains("no-such-dir"), "{problem}");
    assert_eq!(entries(&dir), vec![std::ffi::OsString::from("target")]);
    std::fs::remove_dir_all(&dir).ok();
}
