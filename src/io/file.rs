//! Named f32 tensors in a safetensors file: written atomically, read back with every name,
//! shape and dtype checked before anything is used.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use ndarray::ArrayD;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};

/// Tensors by name with their values, and the file's metadata.
pub(crate) type Contents = (BTreeMap<String, Vec<f32>>, HashMap<String, String>);

pub(crate) fn file_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.to_path_buf(),
        tensor: None,
        problem: what.to_string(),
    }
}

/// An i/o failure on `path` while `doing` something ("cannot read", "cannot write"), naming
/// the path and saying so when it is a directory or sits in a directory that does not exist,
/// which the OS's own message (`No such file or directory`) leaves the user to guess.
pub(crate) fn io_error(path: &Path, doing: &str, e: &std::io::Error) -> Error {
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty());
    let problem = if path.is_dir() {
        format!("{doing}: it is a directory, not a file")
    } else if let Some(dir) = parent.filter(|d| !d.exists()) {
        format!("{doing}: its directory {} does not exist", dir.display())
    } else {
        format!("{doing}: {e}")
    };
    file_error(path, problem)
}

/// The bytes of the file at `path`; errors name it.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, "cannot read", &e))
}

fn tensor_error(path: &Path, tensor: &str, what: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.to_path_buf(),
        tensor: Some(tensor.to_string()),
        problem: what.to_string(),
    }
}

/// Writes `tensors` and `metadata` to `path` through a temporary file that is synced and then
/// renamed over `path`, so a crash mid-write leaves the previous file intact.
pub(crate) fn write_atomically(
    path: &Path,
    tensors: &[(String, ArrayD<f32>)],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                t.shape().to_vec(),
                t.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            Ok((
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data)
                    .map_err(|e| file_error(path, e))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // A directory would only be found at the rename, after the temporary file was written.
    if path.is_dir() {
        return Err(file_error(
            path,
            "cannot write: it is a directory, not a file",
        ));
    }
    let Some(name) = path.file_name() else {
        return Err(file_error(path, "cannot write: the path names no file"));
    };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let written = safetensors::serialize_to_file(views, Some(metadata), &tmp)
        .map_err(|e| match e {
            safetensors::SafeTensorError::IoError(e) => io_error(path, "cannot write", &e),
            e => file_error(path, e),
        })
        .and_then(|()| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| io_error(path, "cannot write", &e))
        });
    if written.is_err() {
        // A failed save leaves nothing behind (there is none when the file was never created).
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename itself is durable once the directory is synced (where the OS allows it).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The metadata of a safetensors file, without reading its tensors' data.
pub(crate) fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let buffer = read_bytes(path)?;
    let (_, header) = SafeTensors::read_metadata(&buffer)
        .map_err(|e| file_error(path, format!("not a readable safetensors file ({e})")))?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// Reads exactly the tensors named in `expected` (name and shape, checked in this order), all
/// F32, and the metadata. Missing or unexpected tensors are listed; a wrong shape or dtype
/// names the first tensor that has one.
pub(crate) fn read_checked(path: &Path, expected: &[(String, Vec<usize>)]) -> Result<Contents> {
    read_checked_bytes(path, &read_bytes(path)?, expected)
}

/// [`read_checked`] on the file's bytes, read already.
pub(crate) fn read_checked_bytes(
    path: &Path,
    buffer: &[u8],
    expected: &[(String, Vec<usize>)],
) -> Result<Contents> {
    let (_, header) = SafeTensors::read_metadata(buffer)
        .map_err(|e| file_error(path, format!("not a readable safetensors file ({e})")))?;
    let file = SafeTensors::deserialize(buffer)
        .map_err(|e| file_error(path, format!("not a readable safetensors file ({e})")))?;
    let found: BTreeSet<String> = file.names().into_iter().map(str::to_string).collect();
    let wanted: BTreeSet<String> = expected.iter().map(|(n, _)| n.clone()).collect();
    let missing: Vec<_> = wanted.difference(&found).cloned().collect();
    let extra: Vec<_> = found.difference(&wanted).cloned().collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(file_error(
            path,
            format!("does not fit this model: missing {missing:?}, unexpected {extra:?}"),
        ));
    }
    let mut values = BTreeMap::new();
    for (name, shape) in expected {
        let view = file.tensor(name).map_err(|e| tensor_error(path, name, e))?;
        if view.dtype() != Dtype::F32 {
            return Err(tensor_error(
                path,
                name,
                format!("tensor {name} is {:?}; wgfit tensors are F32", view.dtype()),
            ));
        }
        if view.shape() != shape.as_slice() {
            return Err(tensor_error(
                path,
                name,
                format!(
                    "tensor {name} has shape {:?} but this model's is {shape:?}",
                    view.shape()
                ),
            ));
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        values.insert(name.clone(), data);
    }
    Ok((values, header.metadata().clone().unwrap_or_default()))
}
