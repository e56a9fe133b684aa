//! `.npy` and `.npz` input, for data a Python user has at hand: float32, float64, int64,
//! int32, uint8 and bool arrays all come in as f32.

use std::fs::File;
use std::path::Path;

use ndarray::{ArrayD, IxDyn, OwnedRepr};
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError};

use super::file::io_error;
use crate::error::{Error, Result};

fn npy_error(path: &Path, tensor: Option<&str>, problem: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.to_path_buf(),
        tensor: tensor.map(str::to_string),
        problem: problem.to_string(),
    }
}

/// Opens `path` for reading; a directory is refused by name (opening one succeeds on Linux
/// and only the first read would fail, with a message that names no path).
fn open(path: &Path) -> Result<File> {
    if path.is_dir() {
        return Err(npy_error(
            path,
            None,
            "cannot read: it is a directory, not a file",
        ));
    }
    File::open(path).map_err(|e| io_error(path, "cannot read", &e))
}

/// Returns the array as f32 from the first dtype that reads: `$read!(T)` gives `Some(array)`,
/// or `None` when the file holds another dtype (it returns early on any other error).
macro_rules! first_dtype {
    ($read:ident) => {
        if let Some(a) = $read!(f32) {
            return Ok(a);
        }
        if let Some(a) = $read!(f64) {
            return Ok(a.mapv(|v| v as f32));
        }
        if let Some(a) = $read!(i64) {
            return Ok(a.mapv(|v| v as f32));
        }
        if let Some(a) = $read!(i32) {
            return Ok(a.mapv(|v| v as f32));
        }
        if let Some(a) = $read!(u8) {
            return Ok(a.mapv(f32::from));
        }
        if let Some(a) = $read!(bool) {
            return Ok(a.mapv(|v| f32::from(u8::from(v))));
        }
    };
}

const DTYPES: &str = "its dtype is not float32, float64, int64, int32, uint8 or bool";

/// Reads a `.npy` file (as `numpy.save` writes it) into an f32 array of the same shape,
/// ready for `fit` (`x = np.load("x_train.npy")` in Python).
///
/// Float32, float64, int64, int32, uint8 and bool arrays are converted to f32. Errors:
/// [`Error::File`], naming the path, when the file cannot be opened (missing, a directory), is
/// not `.npy`, is truncated, or holds another dtype.
///
/// ```
/// let path = std::env::temp_dir().join(format!("wgfit-doc-{}.npy", std::process::id()));
/// let labels = ndarray::arr2(&[[1i64, 2, 3], [4, 5, 6]]); // numpy's default integers
/// ndarray_npy::write_npy(&path, &labels).unwrap();
/// let y = wgfit::io::read_npy(&path)?;
/// assert_eq!(y, ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn());
/// std::fs::write(&path, b"not a numpy file")?;
/// assert!(matches!(wgfit::io::read_npy(&path), Err(wgfit::Error::File { .. })));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn read_npy(path: impl AsRef<Path>) -> Result<ArrayD<f32>> {
    let path = path.as_ref();
    macro_rules! read {
        ($t:ty) => {
            match ArrayD::<$t>::read_npy(open(path)?) {
                Ok(a) => Some(a),
                Err(ReadNpyError::WrongDescriptor(_)) => None,
                Err(e) => return Err(npy_error(path, None, e)),
            }
        };
    }
    first_dtype!(read);
    Err(npy_error(path, None, DTYPES))
}

/// Reads array `name` (with or without `.npy`) of a `.npz` file (as `numpy.savez` writes it)
/// into an f32 array (`np.load("data.npz")["x_train"]` in Python); dtypes as for
/// [`read_npy`].
///
/// Errors: [`Error::File`], naming the path, for a file that cannot be opened or is not a
/// readable `.npz`, an array of another dtype, or an unknown `name` (the error lists the
/// names the file has).
///
/// ```
/// use ndarray::{arr1, arr2};
/// let path = std::env::temp_dir().join(format!("wgfit-doc-{}.npz", std::process::id()));
/// let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&path)?);
/// npz.add_array("x_train", &arr2(&[[0.5f64, 1.5]])).unwrap();
/// npz.add_array("y_train", &arr1(&[1u8])).unwrap();
/// npz.finish().unwrap();
/// let x = wgfit::io::read_npz(&path, "x_train")?;
/// assert_eq!(x, arr2(&[[0.5f32, 1.5]]).into_dyn());
/// assert_eq!(wgfit::io::read_npz(&path, "y_train.npy")?, arr1(&[1.0f32]).into_dyn());
/// let err = wgfit::io::read_npz(&path, "x_test").unwrap_err();
/// assert!(matches!(err, wgfit::Error::File { .. }) && err.to_string().contains("x_train"));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn read_npz(path: impl AsRef<Path>, name: &str) -> Result<ArrayD<f32>> {
    let path = path.as_ref();
    let mut npz = NpzReader::new(open(path)?).map_err(|e| npy_error(path, None, e))?;
    let names = npz.names().map_err(|e| npy_error(path, None, e))?;
    let bare = name.strip_suffix(".npy").unwrap_or(name);
    let entry = [bare.to_string(), format!("{bare}.npy")]
        .into_iter()
        .find(|n| names.contains(n))
        .ok_or_else(|| {
            npy_error(
                path,
                Some(name),
                format!("has no array {name:?}; it has {names:?}"),
            )
        })?;
    read_entry(&mut npz, path, &entry, name)
}

/// Array `entry` of an open `.npz` as f32 (`name` as the user wrote it, for errors).
fn read_entry(
    npz: &mut NpzReader<File>,
    path: &Path,
    entry: &str,
    name: &str,
) -> Result<ArrayD<f32>> {
    macro_rules! read {
        ($t:ty) => {
            match npz.by_name::<OwnedRepr<$t>, IxDyn>(entry) {
                Ok(a) => Some(a),
                Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_))) => None,
                Err(e) => return Err(npy_error(path, Some(name), e)),
            }
        };
    }
    first_dtype!(read);
    Err(npy_error(path, Some(name), DTYPES))
}

/// Reads a list of sequences saved as `numpy.savez(f, *arrays)` (arrays `arr_0`, `arr_1`,
/// ..., read in numeric order), the way Python keeps variable-length sequences: each
/// `[T_i]` or `[T_i, F]`, dtypes as for [`read_npy`]. The arrays come as they are: give
/// 1-D token ids to `SequenceDataset::new`, 1-D series of values to
/// `SequenceDataset::from_series` or `pad_feature_sequences`.
///
/// Errors: [`Error::File`] naming the path and the array for: a file that cannot be read, an
/// array whose name is not `arr_<i>` (the error says how to save the file), a gap in the
/// numbering, an array that is not `[T]` / `[T, F]`, one whose rank or `F` differs from
/// `arr_0`'s, and a file with no arrays.
///
/// ```
/// let path = std::env::temp_dir().join(format!("wgfit-doc-seqs-{}.npz", std::process::id()));
/// let mut npz = ndarray_npy::NpzWriter::new(std::fs::File::create(&path)?);
/// for (i, t) in [3usize, 1, 4].iter().enumerate() {
///     npz.add_array(format!("arr_{i}"), &ndarray::Array2::<f64>::zeros((*t, 2))).unwrap();
/// }
/// npz.finish().unwrap();
/// let seqs = wgfit::io::read_npz_sequences(&path)?;
/// assert_eq!(seqs.iter().map(|s| s.shape().to_vec()).collect::<Vec<_>>(), [[3, 2], [1, 2], [4, 2]]);
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn read_npz_sequences(path: impl AsRef<Path>) -> Result<Vec<ArrayD<f32>>> {
    let path = path.as_ref();
    let mut npz = NpzReader::new(open(path)?).map_err(|e| npy_error(path, None, e))?;
    let names = npz.names().map_err(|e| npy_error(path, None, e))?;
    let mut numbered = Vec::with_capacity(names.len());
    for entry in &names {
        let bare = entry.strip_suffix(".npy").unwrap_or(entry);
        let i = bare
            .strip_prefix("arr_")
            .and_then(|i| i.parse::<usize>().ok())
            .ok_or_else(|| {
                npy_error(
                    path,
                    Some(bare),
                    "is not named arr_<i>: save a list of sequences as \
                     numpy.savez(f, *sequences), which names them arr_0, arr_1, ...",
                )
            })?;
        numbered.push((i, entry.clone(), bare.to_string()));
    }
    numbered.sort();
    if numbered.is_empty() {
        return Err(npy_error(path, None, "holds no arrays: no sequences"));
    }
    let mut seqs: Vec<ArrayD<f32>> = Vec::with_capacity(numbered.len());
    for (k, (i, entry, bare)) in numbered.iter().enumerate() {
        if *i != k {
            return Err(npy_error(
                path,
                Some(&format!("arr_{k}")),
                format!(
                    "is missing: the arrays jump from arr_{} to {bare}",
                    k.wrapping_sub(1)
                ),
            ));
        }
        let a = read_entry(&mut npz, path, entry, bare)?;
        let first = seqs.first().map_or(a.shape(), |f| f.shape());
        if !(1..=2).contains(&a.ndim()) || a.ndim() != first.len() || a.shape()[1..] != first[1..] {
            return Err(npy_error(
                path,
                Some(bare),
                format!(
                    "has shape {:?}, but every sequence must be [T] or [T, F] with the rank \
                     and F of arr_0 ({:?})",
                    a.shape(),
                    first
                ),
            ));
        }
        seqs.push(a);
    }
    Ok(seqs)
}
