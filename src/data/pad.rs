//! `pad_sequences`, as `keras.utils.pad_sequences`: defaults padding "pre", truncating "pre",
//! value 0, maxlen the longest sequence.

use ndarray::{Array2, Array3, ArrayView2, Axis, CowArray, IxDyn};

use super::sequences::IntoSequences;
use crate::error::{Error, Result};

/// Which end of a sequence gets the padding (or loses steps when truncating): Keras's
/// `padding='pre'` / `'post'` and `truncating='pre'` / `'post'`.
///
/// ```
/// use wgfit::data::{pad_sequences, PadOptions, Padding};
/// let seqs = [vec![1.0, 2.0, 3.0], vec![4.0]];
/// let pre = pad_sequences(&seqs, PadOptions::new().maxlen(2))?;
/// assert_eq!(pre, ndarray::arr2(&[[2.0, 3.0], [0.0, 4.0]])); // Keras's defaults: both Pre
/// let post = pad_sequences(&seqs, PadOptions::new().maxlen(2).padding(Padding::Post).truncating(Padding::Post))?;
/// assert_eq!(post, ndarray::arr2(&[[1.0, 2.0], [4.0, 0.0]]));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// At the start (Keras's default).
    #[default]
    Pre,
    /// At the end.
    Post,
}

/// Options of [`pad_sequences`] and [`pad_feature_sequences`], Keras's defaults unless set:
/// `maxlen` the longest sequence, padding and truncating `Pre`, value 0.
///
/// ```
/// use wgfit::data::{pad_sequences, PadOptions};
/// let x = pad_sequences(&[vec![1.0, 2.0], vec![3.0]], PadOptions::new().maxlen(3).value(-1.0))?;
/// assert_eq!(x, ndarray::arr2(&[[-1.0, 1.0, 2.0], [-1.0, -1.0, 3.0]]));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PadOptions {
    maxlen: Option<usize>,
    padding: Padding,
    truncating: Padding,
    value: f32,
}

impl PadOptions {
    /// Keras's defaults (`maxlen=None, padding='pre', truncating='pre', value=0.0`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The padded length, at least 1 (default: the longest sequence).
    #[must_use]
    pub fn maxlen(mut self, n: usize) -> Self {
        self.maxlen = Some(n);
        self
    }

    /// Which end gets the padding (Keras's `padding=`; default `Pre`).
    #[must_use]
    pub fn padding(mut self, p: Padding) -> Self {
        self.padding = p;
        self
    }

    /// Which end loses steps when a sequence is longer than `maxlen`.
    #[must_use]
    pub fn truncating(mut self, p: Padding) -> Self {
        self.truncating = p;
        self
    }

    /// The padding value (default 0).
    #[must_use]
    pub fn value(mut self, v: f32) -> Self {
        self.value = v;
        self
    }
}

/// The padded length: `maxlen` when set (never 0), else the longest of `lengths`.
fn padded_length(
    what: &str,
    options: &PadOptions,
    lengths: impl Iterator<Item = usize>,
) -> Result<usize> {
    match options.maxlen {
        // Keras fails here too, but with numpy's "could not broadcast input array from shape
        // (3,) into shape (0,)" (or, truncating "post", returns the useless [N, 0]).
        Some(0) => Err(Error::Config(format!(
            "{what}: PadOptions::maxlen(0) leaves no step of any sequence; use maxlen >= 1, or \
             no maxlen for the longest sequence"
        ))),
        Some(n) => Ok(n),
        None => Ok(lengths.max().unwrap_or(0)),
    }
}

/// The range of a sequence of `len` steps kept for `maxlen`, and where it goes in the row.
fn placement(len: usize, maxlen: usize, o: &PadOptions) -> (std::ops::Range<usize>, usize) {
    let kept = len.min(maxlen);
    let src = match o.truncating {
        Padding::Pre => len - kept..len,
        Padding::Post => 0..kept,
    };
    let dst = match o.padding {
        Padding::Pre => maxlen - kept,
        Padding::Post => 0,
    };
    (src, dst)
}

/// Pads (and truncates) token sequences to `[N, maxlen]`, as
/// `keras.utils.pad_sequences(seqs, maxlen=..., padding=..., truncating=..., value=...)`;
/// the result is the `x` of a model starting with an [`Embedding`](crate::layers::Embedding).
/// The sequences are anything [`IntoSequences`] takes (`&[Vec<f32>]`, `&[&[f32]]`,
/// `Vec<Array1<f32>>`, ...), each `[T]`. No sequences give `[0, 0]`.
///
/// # Errors
/// [`Error::Config`] for `maxlen(0)`, which would keep no step; [`Error::Data`] naming the
/// first sequence that is not 1-D (for `[T, F]` sequences, or univariate series that an RNN
/// takes as `[N, T, 1]`, call [`pad_feature_sequences`]).
///
/// ```
/// use wgfit::data::{pad_sequences, PadOptions, Padding};
/// let x = pad_sequences(&[vec![1.0, 2.0, 3.0], vec![4.0, 5.0]], PadOptions::new().padding(Padding::Post))?;
/// assert_eq!(x, ndarray::arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn pad_sequences<'a>(seqs: impl IntoSequences<'a>, options: PadOptions) -> Result<Array2<f32>> {
    let seqs = seqs.into_sequences();
    if let Some((i, s)) = seqs.iter().enumerate().find(|(_, s)| s.ndim() != 1) {
        return Err(Error::Data(format!(
            "pad_sequences: sequence {i} has shape {:?}, but pad_sequences pads 1-D sequences \
             ([T] token ids); for [T, F] sequences, or series of values an RNN takes as \
             [N, T, 1], call pad_feature_sequences",
            s.shape()
        )));
    }
    let maxlen = padded_length("pad_sequences", &options, seqs.iter().map(|s| s.len()))?;
    let mut out = Array2::from_elem((seqs.len(), maxlen), options.value);
    for (i, s) in seqs.iter().enumerate() {
        let (src, dst) = placement(s.len(), maxlen, &options);
        for (k, &v) in s.slice(ndarray::s![src]).iter().enumerate() {
            out[[i, dst + k]] = v;
        }
    }
    Ok(out)
}

/// Pads (and truncates) sequences of feature vectors `[T_i, F]` to `[N, maxlen, F]`. A 1-D
/// sequence `[T_i]` is a univariate series of values, taken as `[T_i, 1]`, so a list of
/// series comes out `[N, maxlen, 1]`, what a `Masking` + RNN model takes. The sequences are
/// anything [`IntoSequences`] takes (`&[ArrayView2<f32>]`, `&ts.series`, `&[Vec<f32>]`, ...).
/// Whole steps are padded with `value`, so a [`Masking`](crate::layers::Masking) layer with
/// the same value masks them.
///
/// # Errors
/// [`Error::Data`] naming the first sequence whose `F` differs from sequence 0's, or that is
/// not `[T]` / `[T, F]`; `maxlen(0)` is an [`Error::Config`], as for [`pad_sequences`].
///
/// ```
/// use wgfit::data::{pad_feature_sequences, PadOptions, Padding};
/// let a = ndarray::arr2(&[[1.0f32, 1.0], [2.0, 2.0], [3.0, 3.0]]); // 3 steps, 2 features
/// let b = ndarray::arr2(&[[4.0f32, 4.0]]);                         // 1 step
/// let x = pad_feature_sequences(&[a.view(), b.view()], PadOptions::new().padding(Padding::Post))?;
/// assert_eq!(x.shape(), &[2, 3, 2]);
/// assert_eq!(x.slice(ndarray::s![1, .., 0]).to_vec(), vec![4.0, 0.0, 0.0]);
/// let c = ndarray::arr2(&[[1.0f32, 2.0, 3.0]]);                    // 3 features
/// assert!(matches!(pad_feature_sequences(&[a.view(), c.view()], PadOptions::new()), Err(wgfit::Error::Data(_))));
/// // Univariate series: each [T] becomes [T, 1].
/// let x = pad_feature_sequences(&[vec![0.5, 0.25], vec![1.5]], PadOptions::new())?;
/// assert_eq!(x, ndarray::arr3(&[[[0.5], [0.25]], [[0.0], [1.5]]]));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn pad_feature_sequences<'a>(
    seqs: impl IntoSequences<'a>,
    options: PadOptions,
) -> Result<Array3<f32>> {
    let seqs = seqs.into_sequences();
    if let Some((i, s)) = seqs
        .iter()
        .enumerate()
        .find(|(_, s)| !(1..=2).contains(&s.ndim()))
    {
        return Err(Error::Data(format!(
            "pad_feature_sequences: sequence {i} has shape {:?}; each sequence must be [T, F] \
             (feature vectors) or [T] (a univariate series, taken as [T, 1])",
            s.shape()
        )));
    }
    let features = |s: &CowArray<'_, f32, IxDyn>| s.shape().get(1).copied().unwrap_or(1);
    let f0 = seqs.first().map_or(0, features);
    if let Some((i, s)) = seqs.iter().enumerate().find(|(_, s)| features(s) != f0) {
        return Err(Error::Data(format!(
            "pad_feature_sequences: sequence {i} has {} features per step but sequence 0 has {f0}",
            features(s)
        )));
    }
    let maxlen = padded_length(
        "pad_feature_sequences",
        &options,
        seqs.iter().map(|s| s.shape()[0]),
    )?;
    let mut out = Array3::from_elem((seqs.len(), maxlen, f0), options.value);
    for (i, s) in seqs.iter().enumerate() {
        let s = as_steps(s);
        let (src, dst) = placement(s.nrows(), maxlen, &options);
        for (k, row) in src.enumerate() {
            out.slice_mut(ndarray::s![i, dst + k, ..])
                .assign(&s.row(row));
        }
    }
    Ok(out)
}

/// A `[T]` or `[T, F]` sequence as `[T, F]` (`[T]` as `[T, 1]`), whatever its memory layout.
pub(super) fn as_steps<'v>(s: &'v CowArray<'_, f32, IxDyn>) -> ArrayView2<'v, f32> {
    let v = s.view();
    let v = if v.ndim() == 1 {
        v.insert_axis(Axis(1))
    } else {
        v
    };
    v.into_dimensionality()
        .expect("checked by the caller: [T] or [T, F]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn defaults_pad_and_truncate_at_the_front_like_keras() {
        let seqs = [
            vec![1.0, 2.0, 3.0],
            vec![4.0, 5.0],
            vec![6.0, 7.0, 8.0, 9.0],
        ];
        let x = pad_sequences(&seqs, PadOptions::new()).unwrap();
        assert_eq!(
            x,
            arr2(&[
                [0.0, 1.0, 2.0, 3.0],
                [0.0, 0.0, 4.0, 5.0],
                [6.0, 7.0, 8.0, 9.0]
            ])
        );
        let x = pad_sequences(&seqs, PadOptions::new().maxlen(3)).unwrap();
        assert_eq!(
            x,
            arr2(&[[1.0, 2.0, 3.0], [0.0, 4.0, 5.0], [7.0, 8.0, 9.0]])
        );
    }

    #[test]
    fn post_padding_post_truncating_and_a_value() {
        let seqs = [vec![1.0, 2.0, 3.0], vec![4.0]];
        let x = pad_sequences(
            &seqs,
            PadOptions::new()
                .maxlen(2)
                .padding(Padding::Post)
                .truncating(Padding::Post)
                .value(-1.0),
        )
        .unwrap();
        assert_eq!(x, arr2(&[[1.0, 2.0], [4.0, -1.0]]));
    }

    #[test]
    fn maxlen_zero_is_a_config_error_naming_the_option() {
        let seqs = [vec![1.0, 2.0, 3.0], vec![4.0]];
        for truncating in [Padding::Pre, Padding::Post] {
            let options = PadOptions::new().maxlen(0).truncating(truncating);
            match pad_sequences(&seqs, options) {
                Err(Error::Config(msg)) => {
                    assert!(
                        msg.contains("pad_sequences") && msg.contains("maxlen(0)"),
                        "{msg}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
        let a = arr2(&[[1.0, 1.0], [2.0, 2.0]]);
        match pad_feature_sequences([a.view()], PadOptions::new().maxlen(0)) {
            Err(Error::Config(msg)) => assert!(msg.contains("pad_feature_sequences"), "{msg}"),
            other => panic!("{other:?}"),
        }
        // maxlen 1 still works: the smallest length that keeps a step.
        let x = pad_sequences(&seqs, PadOptions::new().maxlen(1)).unwrap();
        assert_eq!(x, arr2(&[[3.0], [4.0]]));
    }

    #[test]
    fn feature_sequences_pad_whole_steps() {
        let a = arr2(&[[1.0, 1.0], [2.0, 2.0]]);
        let b = arr2(&[[3.0, 3.0]]);
        let x = pad_feature_sequences(
            [a.view(), b.view()],
            PadOptions::new().padding(Padding::Post),
        )
        .unwrap();
        assert_eq!(x.shape(), &[2, 2, 2]);
        assert_eq!(x[[1, 0, 1]], 3.0);
        assert_eq!(x[[1, 1, 0]], 0.0);
        let bad = arr2(&[[1.0, 2.0, 3.0]]);
        assert!(
            pad_feature_sequences([a.view(), bad.view()], PadOptions::new())
                .unwrap_err()
                .to_string()
                .contains("sequence 1 has 3")
        );
    }
}
