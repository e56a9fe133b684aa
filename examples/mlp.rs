//! The seed's first program, line for line as a Keras user writes it:
//!
//! ```python
//! model = keras.Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation='relu'),
//!                           Dense(10, activation='softmax')])
//! model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
//! x_train = np.random.rand(1000, 28, 28)
//! y_train = keras.utils.to_categorical(np.random.randint(0, 10, 1000), num_classes=10)
//! model.fit(x_train, y_train, batch_size=32, epochs=10)
//! ```
//!
//!     cargo run --release --example mlp

use ndarray::{Array1, Array3};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());

    let mut model = Sequential::new()
        .add(Flatten::new().input_shape([28, 28]))
        .add(Dense::new(128).activation(Activation::Relu))
        .add(Dense::new(10).activation(Activation::Softmax));
    model.compile(
        &device,
        Optimizer::adam(),
        Loss::CategoricalCrossentropy,
        &[Metric::Accuracy],
    )?;

    // Random data, as in the seed (np.random.rand and np.random.randint).
    let mut rng = StdRng::seed_from_u64(42);
    let x_train = Array3::from_shape_fn((1000, 28, 28), |_| rng.random::<f32>());
    let labels = Array1::from_shape_fn(1000, |_| rng.random_range(0..10) as f32);
    let y_train = to_categorical(&labels, 10)?;

    let history = model.fit(
        &x_train,
        &y_train,
        FitOptions::new().batch_size(32).epochs(10),
    )?;
    let last = history.epochs() - 1;
    println!(
        "final: loss {:.4}, accuracy {:.4}",
        history.loss()[last],
        history.get("accuracy").map_or(f32::NAN, |a| a[last])
    );
    Ok(())
}
