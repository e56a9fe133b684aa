//! The README's quick start, whole: a classifier for points inside a circle, trained on the
//! best device found, evaluated, plotted, saved, and loaded back into a fresh model.
//! `cargo run --release --example quick_start`

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn model() -> Sequential {
    Sequential::new()
        .add(Dense::new(16).activation(Activation::Relu).input_shape([2]))
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

fn main() -> wgfit::Result<()> {
    let device = Device::auto()?; // or WGFIT_DEVICE=cpu|gpu|vulkan|metal|dx12|gl
    println!("device: {}", device.info());

    // 2 000 points in [-1, 1]^2; the label says whether a point lies inside the circle r = 0.7.
    let mut rng = StdRng::seed_from_u64(0);
    let x = Array2::from_shape_fn((2000, 2), |_| rng.random_range(-1.0f32..1.0));
    let y = Array1::from_iter(x.rows().into_iter().map(|p| f32::from(p.dot(&p) < 0.49)));

    let mut classifier = model();
    classifier.compile(
        &device,
        Optimizer::adam().learning_rate(0.01),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let history = classifier.fit(
        &x,
        &y,
        FitOptions::new()
            .batch_size(32)
            .epochs(20)
            .validation_split(0.2)
            .verbose(2),
    )?;
    let result = classifier.evaluate(&x, &y)?;
    println!("accuracy {:.3}", result.get("accuracy").unwrap_or(0.0));

    let dir = std::env::temp_dir();
    history.plot(dir.join("quick_start.png"))?; // loss and accuracy per epoch
    classifier.save_weights(dir.join("quick_start.safetensors"))?;

    let mut restored = model();
    restored.compile(&device, Optimizer::adam(), Loss::BinaryCrossentropy, &[])?;
    restored.load_weights(dir.join("quick_start.safetensors"))?;
    let p = restored.predict(&ndarray::arr2(&[[0.0f32, 0.0], [0.9, 0.9]]))?;
    println!(
        "p(inside) at the centre {:.3}, at a corner {:.3}",
        p[[0, 0]],
        p[[1, 0]]
    );
    if p[[0, 0]] < 0.5 || p[[1, 0]] > 0.5 {
        return Err(wgfit::Error::Data(
            "the restored model misclassifies".into(),
        ));
    }
    Ok(())
}
