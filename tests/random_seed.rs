//! `set_random_seed`: one seed for weights, shuffles, datasets and dropout, as Keras's
//! `keras.utils.set_random_seed`. One test, since the seed is the process's: tests beside it
//! in this binary would race on it.

use ndarray::{Array1, Array2};
use wgfit::prelude::*;

fn model() -> Sequential {
    Sequential::new()
        .add(Dense::new(8).activation(Activation::Tanh).input_shape([3]))
        .add(Dropout::new(0.5))
        .add(Dense::new(1))
}

/// Initial weights and the weights after two shuffled epochs with dropout.
fn run(model: Sequential) -> Result<(Vec<f32>, Vec<f32>)> {
    let mut model = model;
    model.compile(
        &Device::cpu(),
        Optimizer::sgd(),
        Loss::MeanSquaredError,
        &[],
    )?;
    let flat = |m: &Sequential| -> Result<Vec<f32>> {
        Ok(m.get_weights()?
            .into_iter()
            .flat_map(|(_, w)| w.into_raw_vec_and_offset().0)
            .collect())
    };
    let init = flat(&model)?;
    let x = Array2::from_shape_fn((40, 3), |(i, j)| ((i * 3 + j) % 7) as f32 / 7.0 - 0.4);
    let y = Array1::from_shape_fn(40, |i| (i % 5) as f32 / 5.0);
    model.fit(&x, &y, FitOptions::new().batch_size(8).epochs(2).verbose(0))?;
    Ok((init, flat(&model)?))
}

#[test]
fn set_random_seed_seeds_weights_shuffles_datasets_and_dropout() -> Result<()> {
    assert_eq!(wgfit::random_seed(), 0, "the default seed is 0");
    let default = run(model())?;
    assert_eq!(run(model().seed(0))?, default, "seed 0 is the default");

    wgfit::set_random_seed(5);
    let five = run(model())?;
    // Everything the seed reaches follows it: the same as giving 5 to the model and to fit.
    assert_eq!(
        five.0,
        run(model().seed(5))?.0,
        "initial weights follow the seed"
    );
    assert_ne!(five.0, default.0, "another seed, other weights");
    assert_eq!(run(model())?, five, "the same seed repeats the run exactly");

    // A dataset made after the call shuffles by it, as one given the seed itself.
    let seqs: Vec<ndarray::ArrayD<f32>> = (0..12)
        .map(|i| ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2, 2]), i as f32))
        .collect();
    let labels = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[12]), |i| i[0] as f32);
    let dataset = || SequenceDataset::new(seqs.clone(), labels.clone());
    let by_global = dataset()?.batch_size(3).batches(0);
    assert_eq!(by_global, dataset()?.batch_size(3).seed(5).batches(0));
    assert_ne!(by_global, dataset()?.batch_size(3).seed(0).batches(0));

    wgfit::set_random_seed(0);
    assert_eq!(run(model())?, default, "back to the default");
    Ok(())
}
