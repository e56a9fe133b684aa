//! `.npy` / `.npz` input: the dtypes numpy writes by default come in as f32, and a missing
//! array or an unsupported dtype is a typed error naming it.

use ndarray::{ArrayD, arr1, arr2};
use ndarray_npy::{NpzWriter, write_npy};
use wgfit::Error;
use wgfit::io::{read_npy, read_npz};

fn dir(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wgfit-npy-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn npy_files_of_numpys_default_dtypes_read_as_f32() {
    let d = dir("npy");
    write_npy(d.join("f64.npy"), &arr2(&[[1.5f64, -2.0], [3.25, 4.0]])).unwrap();
    write_npy(d.join("i64.npy"), &arr1(&[3i64, 0, 7])).unwrap();
    write_npy(d.join("f32.npy"), &arr1(&[0.5f32])).unwrap();
    assert_eq!(
        read_npy(d.join("f64.npy")).unwrap(),
        arr2(&[[1.5f32, -2.0], [3.25, 4.0]]).into_dyn()
    );
    assert_eq!(
        read_npy(d.join("i64.npy")).unwrap(),
        arr1(&[3.0f32, 0.0, 7.0]).into_dyn()
    );
    assert_eq!(
        read_npy(d.join("f32.npy")).unwrap(),
        arr1(&[0.5f32]).into_dyn()
    );
    write_npy(d.join("u16.npy"), &arr1(&[1u16])).unwrap();
    assert!(matches!(
        read_npy(d.join("u16.npy")),
        Err(Error::File { .. })
    ));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn npz_arrays_read_by_name_and_a_missing_one_lists_the_others() {
    let d = dir("npz").join("data.npz");
    let mut npz = NpzWriter::new(std::fs::File::create(&d).unwrap());
    npz.add_array("x_train", &arr2(&[[1.0f64, 2.0]])).unwrap();
    npz.add_array("y_train", &arr1(&[1i64])).unwrap();
    npz.finish().unwrap();
    let x: ArrayD<f32> = read_npz(&d, "x_train").unwrap();
    assert_eq!(x, arr2(&[[1.0f32, 2.0]]).into_dyn());
    assert_eq!(
        read_npz(&d, "y_train.npy").unwrap(),
        arr1(&[1.0f32]).into_dyn()
    );
    match read_npz(&d, "x_test") {
        Err(Error::File {
            tensor, problem, ..
        }) => {
            assert_eq!(tensor.as_deref(), Some("x_test"));
            assert!(problem.contains("x_train"), "{problem}");
        }
        r => panic!("{r:?}"),
    }
}
