use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng, rngs::StdRng};
use wgfit::prelude::*;

fn main() -> wgfit::Result<()> {
    let device = Device::auto()?; // the best GPU, else the CPU reference; WGFIT_DEVICE overrides
    let mut rng = StdRng::seed_from_u64(0);
    let x = Array2::from_shape_fn((2000, 2), |_| rng.random_range(-1.0f32..1.0));
    let y = Array1::from_iter(x.rows().into_iter().map(|p| f32::from(p.dot(&p) < 0.49)));

    let mut model = Sequential::new()
        .add(Dense::new(16).activation(Activation::Relu).input_shape([2]))
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    model.compile(
        &device,
        Optimizer::adam().learning_rate(0.01),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let history = model.fit(
        &x,
        &y,
        FitOptions::new()
            .batch_size(32)
            .epochs(20)
            .validation_split(0.2),
    )?;
    println!("{:?}", model.evaluate(&x, &y)?); // loss and accuracy
    history.plot("history.png")?; // loss and accuracy per epoch (.svg too)
    model.save_weights("model.safetensors")?; // load_weights reads it back
    Ok(())
}
