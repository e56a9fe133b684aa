//! One seed for a whole program, as Keras's `keras.utils.set_random_seed(n)`.

use std::sync::atomic::{AtomicU64, Ordering};

static SEED: AtomicU64 = AtomicU64::new(0);

/// Sets the seed that everything random uses unless given its own: a model's initial weights
/// (and through them its `Dropout` layers' masks) for models made after this call, the
/// shuffling of `fit`, and the shuffling of `SequenceDataset`s made after it. The default is 0,
/// so a program that never calls it repeats exactly too.
///
/// Unlike Keras, whose global generator hands each new layer the next draw, every model made
/// after `set_random_seed(n)` starts from seed `n`: two identical models get identical initial
/// weights. `Model::seed`, `Sequential::seed`, `FitOptions::seed` and `SequenceDataset::seed`
/// still set their own.
///
/// ```
/// use wgfit::prelude::*;
/// let weights = || -> wgfit::Result<Vec<f32>> {
///     let mut m = Sequential::new().add(Dense::new(3).input_shape([2]));
///     m.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
///     Ok(m.get_weights()?.into_iter().flat_map(|w| w.1.into_raw_vec_and_offset().0).collect())
/// };
/// wgfit::set_random_seed(7);
/// let a = weights()?;
/// wgfit::set_random_seed(8);
/// assert_ne!(weights()?, a);
/// wgfit::set_random_seed(7);
/// assert_eq!(weights()?, a);
/// wgfit::set_random_seed(0); // the default again
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn set_random_seed(seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
}

/// The seed set by [`set_random_seed`] (0 until then).
pub fn random_seed() -> u64 {
    SEED.load(Ordering::Relaxed)
}
