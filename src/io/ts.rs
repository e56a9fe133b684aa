//! The UCR/UEA time-series archive's `.ts` format (sktime's and aeon's): a header of `@` lines,
//! then one series per line, its dimensions separated by `:`, each a comma-separated list of
//! values, and the class label last when `@classLabel true`. Series may differ in length
//! (`@equalLength false`); each comes in as `[T, D]`, univariate ones as `[T, 1]`, ready for
//! `pad_feature_sequences` or a `SequenceDataset`.

use std::path::Path;

use ndarray::Array2;

use super::file::io_error;
use crate::error::{Error, Result};

/// What a `.ts` file's header says about its data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TsMeta {
    /// `@problemName`.
    pub problem_name: Option<String>,
    /// `@univariate` (else inferred from the data: one dimension).
    pub univariate: bool,
    /// Dimensions per series (`@dimensions`, or counted on the first series).
    pub dimensions: usize,
    /// `@equalLength`.
    pub equal_length: bool,
    /// `@seriesLength`, when given.
    pub series_length: Option<usize>,
    /// `@missing`: values written `?` come in as NaN (wgfit's `fit` refuses them, naming the
    /// sample; fill or drop them first).
    pub missing: bool,
}

/// A `.ts` file's series, labels and header.
///
/// ```
/// let text = "@problemName Toy\n@univariate true\n@classLabel true a b\n@data\n\
///             1,2,3:b\n4,5:a\n";
/// let ts = wgfit::io::parse_ts(text, "toy.ts")?;
/// assert_eq!(ts.series[0].dim(), (3, 1)); // [T, D], T = 3 steps, one dimension
/// assert_eq!(ts.series[1].dim(), (2, 1));
/// assert_eq!(ts.labels, vec![1, 0]); // ids in @classLabel's order: a = 0, b = 1
/// assert_eq!(ts.classes, vec!["a", "b"]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TsData {
    /// One `[T, D]` array per series, in file order.
    pub series: Vec<Array2<f32>>,
    /// Each series' class id: its label's place in `@classLabel`'s list (empty without
    /// class labels).
    pub labels: Vec<usize>,
    /// The class labels as written, by id.
    pub classes: Vec<String>,
    /// The header.
    pub meta: TsMeta,
}

/// Reads a `.ts` file ([`parse_ts`] on its text).
///
/// # Errors
/// [`Error::File`] naming the path (and the line) when it cannot be read or is not a `.ts`
/// file wgfit reads: see [`parse_ts`].
pub fn read_ts(path: impl AsRef<Path>) -> Result<TsData> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, "cannot read", &e))?;
    parse_ts(&text, path)
}

/// Parses the text of a `.ts` file; `path` names it in errors.
///
/// # Errors
/// [`Error::File`] with the line number for: data before `@data`, a value that is not a
/// number, a series whose dimensions differ in length or count from the header's, a label
/// not in `@classLabel`'s list, time-stamped series (`@timeStamps true`, not supported), and
/// a file with no series.
pub fn parse_ts(text: &str, path: impl AsRef<Path>) -> Result<TsData> {
    let path = path.as_ref();
    let fail = |line: usize, problem: String| Error::File {
        path: path.to_path_buf(),
        tensor: None,
        problem: format!("line {line}: {problem}"),
    };
    let mut meta = TsMeta::default();
    let (mut declared_dims, mut classes, mut labelled) = (None, Vec::new(), false);
    let (mut series, mut labels, mut in_data) = (Vec::new(), Vec::new(), false);
    for (i, raw) in text.lines().enumerate() {
        let (n, line) = (i + 1, raw.trim());
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data && line.starts_with('@') {
            let mut words = line.split_whitespace();
            let key = words.next().unwrap_or("").to_ascii_lowercase();
            let value = words.next().unwrap_or("");
            let yes = value.eq_ignore_ascii_case("true");
            match key.as_str() {
                "@problemname" => meta.problem_name = Some(value.to_string()),
                "@timestamps" if yes => {
                    return Err(fail(n, "time-stamped series are not supported".into()));
                }
                "@missing" => meta.missing = yes,
                "@univariate" => meta.univariate = yes,
                "@equallength" => meta.equal_length = yes,
                "@dimensions" | "@serieslength" => {
                    let v = value.parse::<usize>().map_err(|_| {
                        fail(n, format!("{key} wants a whole number, got {value:?}"))
                    })?;
                    if key == "@dimensions" {
                        declared_dims = Some(v);
                    } else {
                        meta.series_length = Some(v);
                    }
                }
                "@classlabel" => {
                    labelled = yes;
                    classes = words.map(str::to_string).collect();
                }
                "@data" => in_data = true,
                _ => {}
            }
            continue;
        }
        if !in_data {
            return Err(fail(n, "data before @data".into()));
        }
        let mut fields: Vec<&str> = line.split(':').collect();
        if labelled {
            let label = fields.pop().unwrap_or("").trim();
            let id = classes.iter().position(|c| c == label).ok_or_else(|| {
                fail(
                    n,
                    format!("label {label:?} is not in @classLabel {classes:?}"),
                )
            })?;
            labels.push(id);
        }
        let dims = *declared_dims.get_or_insert(if meta.univariate { 1 } else { fields.len() });
        if fields.len() != dims {
            return Err(fail(
                n,
                format!("{} dimensions where {dims} were expected", fields.len()),
            ));
        }
        let values: Vec<Vec<f32>> = fields
            .iter()
            .map(|f| f.split(',').map(|v| value(v.trim())).collect())
            .collect::<std::result::Result<_, String>>()
            .map_err(|bad| fail(n, format!("{bad:?} is not a number")))?;
        let steps = values[0].len();
        if let Some(d) = values.iter().position(|v| v.len() != steps) {
            return Err(fail(
                n,
                format!(
                    "dimension {d} has {} values where dimension 0 has {steps}",
                    values[d].len()
                ),
            ));
        }
        series.push(Array2::from_shape_fn((steps, dims), |(t, d)| values[d][t]));
    }
    if series.is_empty() {
        return Err(fail(text.lines().count(), "no series after @data".into()));
    }
    meta.dimensions = declared_dims.unwrap_or(1);
    meta.univariate |= meta.dimensions == 1;
    Ok(TsData {
        series,
        labels,
        classes,
        meta,
    })
}

/// One value: a number, or `?` (missing) as NaN.
fn value(v: &str) -> std::result::Result<f32, String> {
    if v == "?" || v.eq_ignore_ascii_case("nan") {
        return Ok(f32::NAN);
    }
    v.parse().map_err(|_| v.to_string())
}
