//! `validation_split`: which samples train and which are held out, as Keras splits them.

use ndarray::{ArrayViewD, Axis};

/// The training samples of `n` before a `validation_split` of `fraction` (in `[0, 1)`), as
/// Keras computes it: `floor(n * (1.0 - fraction))` in f64, with the f32 read as the decimal it
/// prints as (0.2f32 as 0.2, not 0.200000003), so 5 samples at 0.2 keep 4 and hold out 1.
pub(super) fn split_at(n: usize, fraction: f32) -> usize {
    let fraction: f64 = fraction.to_string().parse().unwrap_or(f64::from(fraction));
    (((n as f64) * (1.0 - fraction)).floor() as usize).min(n)
}

/// The first `split` samples (`keep`) or the rest of an array of `n_all` samples; an array
/// of another length is left whole for training (the checks report both counts).
pub(super) fn cut_at<'v>(
    a: &ArrayViewD<'v, f32>,
    n_all: usize,
    split: usize,
    keep: bool,
) -> ArrayViewD<'v, f32> {
    if a.shape()[0] != n_all {
        return if keep {
            a.clone()
        } else {
            a.clone().slice_axis_move(Axis(0), (0..0).into())
        };
    }
    let (train, held) = a.clone().split_at(Axis(0), split);
    if keep { train } else { held }
}

#[cfg(test)]
mod tests {
    use super::split_at;

    #[test]
    fn validation_split_holds_out_what_keras_holds_out() {
        // Keras: split_at = int(math.floor(num_samples * (1.0 - validation_split))).
        assert_eq!(split_at(5, 0.2), 4);
        assert_eq!(split_at(10, 0.3), 7);
        assert_eq!(split_at(10, 0.1), 9);
        assert_eq!(split_at(20, 0.25), 15);
        assert_eq!(split_at(3, 0.5), 1);
        assert_eq!(split_at(7, 0.0), 7);
        assert_eq!(split_at(0, 0.2), 0);
    }
}
