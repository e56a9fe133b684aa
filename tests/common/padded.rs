//! Padded batches of random sequences, for the recurrent layers' tests.

use ndarray::{Array3, s};
use rand::Rng;
use rand::rngs::StdRng;

/// Sequences of the given lengths (features in ±[0.1, 1], never the mask value 0), padded to
/// the longest after the steps (`post`) or before them.
pub fn padded(rng: &mut StdRng, lengths: &[usize], f: usize, post: bool) -> Array3<f32> {
    let t = *lengths.iter().max().unwrap();
    let mut x = Array3::zeros((lengths.len(), t, f));
    for (i, &len) in lengths.iter().enumerate() {
        let start = if post { 0 } else { t - len };
        for s in start..start + len {
            for k in 0..f {
                x[[i, s, k]] =
                    rng.random_range(0.1f32..1.0) * if rng.random() { 1.0 } else { -1.0 };
            }
        }
    }
    x
}

/// The same sequences padded on the other side.
pub fn repadded(x: &Array3<f32>, lengths: &[usize]) -> Array3<f32> {
    let t = x.shape()[1];
    let mut y = Array3::zeros(x.raw_dim());
    for (i, &len) in lengths.iter().enumerate() {
        y.slice_mut(s![i, t - len.., ..])
            .assign(&x.slice(s![i, ..len, ..]));
    }
    y
}
