//! Variable-length sequences from a CSV file in long form: a header row, then one row per
//! step: `sequence id, step, feature, feature, ...` (as `pandas.DataFrame.to_csv` writes a
//! long table). Rows of one sequence may be interleaved with others' and in any order; its
//! steps must be consecutive integers (from any first step: 0 or 1 alike).

use std::collections::HashMap;
use std::path::Path;

use ndarray::Array2;

use super::file::io_error;
use crate::error::{Error, Result};

/// A long-form CSV's sequences, in order of each id's first appearance in the file.
///
/// ```
/// let path = std::env::temp_dir().join(format!("wgfit-doc-{}.csv", std::process::id()));
/// std::fs::write(&path, "id,step,x,y\nb,0,1.0,2.0\na,0,5,6\nb,1,3,4\n")?;
/// let seqs = wgfit::io::read_csv_sequences(&path)?;
/// assert_eq!(seqs.ids, vec!["b", "a"]);            // first appearance
/// assert_eq!(seqs.features, vec!["x", "y"]);       // the header's feature columns
/// assert_eq!(seqs.series[0], ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]])); // [T, F]
/// assert_eq!(seqs.series[1].dim(), (1, 2));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSequences {
    /// Each sequence's id as written, in order of first appearance.
    pub ids: Vec<String>,
    /// One `[T_i, F]` array per id, its rows in step order.
    pub series: Vec<Array2<f32>>,
    /// The names of the feature columns (the header after its first two columns).
    pub features: Vec<String>,
}

/// Reads a long-form CSV of sequences (header row; columns sequence id, step, then the
/// features), giving one `[T_i, F]` array per sequence id, in order of first appearance,
/// rows sorted by step. Values are numbers (`f32`); for the series of one feature, `[T_i, 1]`
/// arrays go straight to `pad_feature_sequences` or `SequenceDataset::new`.
///
/// # Errors
/// [`Error::File`] naming the file and the line for: a header with fewer than three columns
/// (`id, step, feature...`), a row with another number of fields than the header, a step that
/// is not a whole number, a value that is not a number (naming its column), a step given
/// twice for one id (naming both lines), a missing step (the steps of an id must be
/// consecutive), and a file with no rows.
pub fn read_csv_sequences(path: impl AsRef<Path>) -> Result<CsvSequences> {
    let path = path.as_ref();
    let fail = |line: u64, problem: String| Error::File {
        path: path.to_path_buf(),
        tensor: None,
        problem: format!("line {line}: {problem}"),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => io_error(path, "cannot read", &io),
            other => fail(1, format!("{other:?}")),
        })?;
    let header = reader
        .headers()
        .map_err(|e| fail(1, e.to_string()))?
        .clone();
    if header.len() < 3 {
        return Err(fail(
            1,
            format!(
                "the header has {} columns; a long-form sequence file has a sequence id, a \
                 step and at least one feature: id,step,feature,...",
                header.len()
            ),
        ));
    }
    let features: Vec<String> = header.iter().skip(2).map(str::to_string).collect();
    // Per id, in order of first appearance: (step, line, values).
    let mut order: Vec<String> = Vec::new();
    let mut rows: HashMap<String, Vec<(i64, u64, Vec<f32>)>> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            fail(line, e.to_string())
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != header.len() {
            return Err(fail(
                line,
                format!(
                    "{} fields where the header has {} (id, step and {} features)",
                    record.len(),
                    header.len(),
                    features.len()
                ),
            ));
        }
        let step: i64 = record[1].parse().map_err(|_| {
            fail(
                line,
                format!(
                    "step {:?} (column {:?}) is not a whole number",
                    &record[1], &header[1]
                ),
            )
        })?;
        let values = record
            .iter()
            .skip(2)
            .zip(&features)
            .map(|(v, name)| {
                v.parse::<f32>().map_err(|_| {
                    fail(
                        line,
                        format!("value {v:?} in column {name:?} is not a number"),
                    )
                })
            })
            .collect::<Result<Vec<f32>>>()?;
        let id = &record[0];
        if !rows.contains_key(id) {
            order.push(id.to_string());
        }
        rows.entry(id.to_string())
            .or_default()
            .push((step, line, values));
    }
    if order.is_empty() {
        return Err(fail(
            1,
            "no rows after the header: the file holds no sequence".into(),
        ));
    }
    let mut series = Vec::with_capacity(order.len());
    for id in &order {
        let mut steps = rows.remove(id).expect("every id has rows");
        steps.sort_by_key(|&(step, line, _)| (step, line));
        for pair in steps.windows(2) {
            let ((a, la, _), (b, lb, _)) = (&pair[0], &pair[1]);
            if a == b {
                return Err(fail(
                    *lb,
                    format!("sequence {id:?} has step {b} twice (also on line {la})"),
                ));
            }
            if b - a != 1 {
                return Err(fail(
                    *lb,
                    format!(
                        "sequence {id:?} jumps from step {a} (line {la}) to step {b}: step {} is \
                         missing (the steps of a sequence must be consecutive)",
                        a + 1
                    ),
                ));
            }
        }
        let t = steps.len();
        let values: Vec<f32> = steps.into_iter().flat_map(|(_, _, v)| v).collect();
        series.push(Array2::from_shape_vec((t, features.len()), values).expect("t rows of F"));
    }
    Ok(CsvSequences {
        ids: order,
        series,
        features,
    })
}
