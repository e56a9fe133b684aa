//! What the data functions take: one sequence ([`IntoSequence`]: a `Vec<f32>`, a slice, an
//! ndarray array or view of any rank, owned or borrowed) and a list of them
//! ([`IntoSequences`]: a `Vec`, slice or array of those), so `pad_sequences`,
//! `pad_feature_sequences`, the `SequenceDataset` constructors and
//! `timeseries_dataset_from_array` accept what a user has without conversions. Borrowed data
//! is not copied until a function needs its own copy.

use ndarray::{Array, ArrayBase, ArrayD, ArrayView, ArrayView1, CowArray, Data, Dimension, IxDyn};

/// One sequence, time on axis 0: `[T]` (token ids, or a univariate series where the function
/// says so) or `[T, F]`. Implemented for `Vec<f32>`, `&[f32]`, `&Vec<f32>`, `&[f32; N]`,
/// owned ndarray arrays and views of any rank, and references to arrays.
///
/// ```
/// use wgfit::data::IntoSequence;
/// let a = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]);
/// assert_eq!(a.view().into_sequence().shape(), &[2, 2]); // borrowed, not copied
/// assert_eq!(vec![1.0f32, 2.0, 3.0].into_sequence().shape(), &[3]);
/// ```
pub trait IntoSequence<'a> {
    /// The sequence as a dynamic-rank array, borrowed when `self` borrows.
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn>;
}

impl<'a> IntoSequence<'a> for &'a [f32] {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(ArrayView1::from(self).into_dyn())
    }
}

impl<'a> IntoSequence<'a> for &'a Vec<f32> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        self.as_slice().into_sequence()
    }
}

impl<'a, const N: usize> IntoSequence<'a> for &'a [f32; N] {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        self.as_slice().into_sequence()
    }
}

impl<'a> IntoSequence<'a> for Vec<f32> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(Array::from(self).into_dyn())
    }
}

impl<'a, D: Dimension> IntoSequence<'a> for Array<f32, D> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(self.into_dyn())
    }
}

impl<'a, D: Dimension> IntoSequence<'a> for ArrayView<'a, f32, D> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(self.into_dyn())
    }
}

impl<'a, S: Data<Elem = f32>, D: Dimension> IntoSequence<'a> for &'a ArrayBase<S, D> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(self.view().into_dyn())
    }
}

/// Token ids as [`TextVectorization::call_ragged`](crate::text::TextVectorization::call_ragged)
/// gives them (`Vec<Vec<u32>>`): copied to f32, as every sequence is (ids below 2^24 are exact).
impl<'a> IntoSequence<'a> for &'a [u32] {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(Array::from_iter(self.iter().map(|&id| id as f32)).into_dyn())
    }
}

impl<'a> IntoSequence<'a> for &'a Vec<u32> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        self.as_slice().into_sequence()
    }
}

impl<'a> IntoSequence<'a> for Vec<u32> {
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        CowArray::from(Array::from_iter(self.into_iter().map(|id| id as f32)).into_dyn())
    }
}

/// A slice of slices (`&[&[f32]]`), of views (`&[ArrayView2]`) and the like: the elements
/// are references already.
impl<'a, 'b: 'a, T: ?Sized> IntoSequence<'a> for &'a &'b T
where
    &'b T: IntoSequence<'b>,
{
    fn into_sequence(self) -> CowArray<'a, f32, IxDyn> {
        (*self).into_sequence()
    }
}

/// Sequences as a user has them: a `Vec`, slice or fixed-size array whose elements are
/// [`IntoSequence`]: `&[Vec<f32>]`, `&[&[f32]]`, `Vec<Array1<f32>>`, `&[ArrayView2<f32>]`,
/// `Vec<ArrayD<f32>>`, `&ts.series` (a `Vec<Array2<f32>>` borrowed), `[vec![..], vec![..]]`.
///
/// ```
/// use ndarray::{Array1, Array2, ArrayD, IxDyn};
/// use wgfit::data::{IntoSequences, PadOptions, pad_feature_sequences, pad_sequences};
/// // Each call below takes another container of another element type.
/// let ids = pad_sequences(&[vec![1.0, 2.0], vec![3.0]], PadOptions::new())?;
/// let slices: [&[f32]; 2] = [&[1.0, 2.0], &[3.0]];
/// assert_eq!(pad_sequences(&slices, PadOptions::new())?, ids);
/// let owned: Vec<Array1<f32>> = vec![ndarray::arr1(&[1.0, 2.0]), ndarray::arr1(&[3.0])];
/// assert_eq!(pad_sequences(owned, PadOptions::new())?, ids);
/// let series: Vec<Array2<f32>> = vec![Array2::ones((4, 3)), Array2::ones((2, 3))];
/// let views: Vec<_> = series.iter().map(|s| s.view()).collect();
/// assert_eq!(pad_feature_sequences(&views, PadOptions::new())?.shape(), &[2, 4, 3]);
/// let dynamic: Vec<ArrayD<f32>> = series.iter().map(|s| s.clone().into_dyn()).collect();
/// assert_eq!(pad_feature_sequences(dynamic, PadOptions::new())?.shape(), &[2, 4, 3]);
/// assert_eq!((&series).into_sequences()[1].shape(), &[2, 3]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub trait IntoSequences<'a> {
    /// The sequences as dynamic-rank arrays, each borrowed when `self` borrows it.
    fn into_sequences(self) -> Vec<CowArray<'a, f32, IxDyn>>;
}

impl<'a, T: IntoSequence<'a>> IntoSequences<'a> for Vec<T> {
    fn into_sequences(self) -> Vec<CowArray<'a, f32, IxDyn>> {
        self.into_iter().map(IntoSequence::into_sequence).collect()
    }
}

impl<'a, T: IntoSequence<'a>, const N: usize> IntoSequences<'a> for [T; N] {
    fn into_sequences(self) -> Vec<CowArray<'a, f32, IxDyn>> {
        self.into_iter().map(IntoSequence::into_sequence).collect()
    }
}

impl<'a, T> IntoSequences<'a> for &'a [T]
where
    &'a T: IntoSequence<'a>,
{
    fn into_sequences(self) -> Vec<CowArray<'a, f32, IxDyn>> {
        self.iter().map(IntoSequence::into_sequence).collect()
    }
}

impl<'a, T> IntoSequences<'a> for &'a Vec<T>
where
    &'a T: IntoSequence<'a>,
{
    fn into_sequences(self) -> Vec<CowArray<'a, f32, IxDyn>> {
        self.as_slice().into_sequences()
    }
}

impl<'a, T, const N: usize> IntoSequences<'a> for &'a [T; N]
where
    &'a T: IntoSequence<'a>,
{
    fn into_sequences(self) -> Vec<CowArray<'a, f32, IxDyn>> {
        self.as_slice().into_sequences()
    }
}

/// Targets `[N, ...]` as a user has them: an ndarray array or view of any rank (owned or
/// borrowed), `Vec<f32>` / `&[f32]` values or class ids, or `Vec<usize>` / `&[usize]` class
/// ids (as [`TsData::labels`](crate::io::TsData::labels) holds them).
///
/// ```
/// use wgfit::data::IntoTargets;
/// assert_eq!(vec![2usize, 0].into_targets(), ndarray::arr1(&[2.0f32, 0.0]).into_dyn());
/// assert_eq!(ndarray::arr2(&[[1.0f32], [0.0]]).view().into_targets().shape(), &[2, 1]);
/// ```
pub trait IntoTargets {
    /// The targets as an owned dynamic-rank array.
    fn into_targets(self) -> ArrayD<f32>;
}

impl<'a, T: IntoSequence<'a>> IntoTargets for T {
    fn into_targets(self) -> ArrayD<f32> {
        self.into_sequence().into_owned()
    }
}

impl IntoTargets for &[usize] {
    fn into_targets(self) -> ArrayD<f32> {
        // Class ids beyond 2^24 lose precision in f32; no class count comes near that.
        Array::from_iter(self.iter().map(|&c| c as f32)).into_dyn()
    }
}

impl IntoTargets for &Vec<usize> {
    fn into_targets(self) -> ArrayD<f32> {
        self.as_slice().into_targets()
    }
}

impl IntoTargets for Vec<usize> {
    fn into_targets(self) -> ArrayD<f32> {
        self.as_slice().into_targets()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, arr1};

    #[test]
    fn borrowed_sequences_are_views_and_owned_ones_move() {
        let series = vec![Array2::<f32>::ones((3, 2))];
        let seqs = (&series).into_sequences();
        assert!(seqs[0].is_view());
        assert_eq!(seqs[0].as_ptr(), series[0].as_ptr());
        let owned = vec![arr1(&[1.0f32, 2.0])];
        let ptr = owned[0].as_ptr();
        let seqs = owned.into_sequences();
        assert!(!seqs[0].is_view());
        assert_eq!(seqs[0].as_ptr(), ptr, "moved, not copied");
        let nested: Vec<&[f32]> = vec![&[1.0, 2.0], &[3.0]];
        assert_eq!(nested.as_slice().into_sequences()[1].shape(), &[1]);
    }
}
