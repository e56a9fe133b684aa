//! The seed's third program, with the functional API and a dynamic time axis:
//!
//! ```python
//! data = [np.random.rand(i, 10) for i in range(10, 20)]            # 10 sequences, lengths 10..19
//! padded = [np.pad(s, ((0, 19 - s.shape[0]), (0, 0)), 'constant') for s in data]
//! inputs = Input(shape=(None, 10)); masked = Masking(mask_value=0.)(inputs)
//! model = Model(inputs=inputs, outputs=Dense(1, activation='sigmoid')(LSTM(32)(masked)))
//! model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
//! model.fit(np.array(padded), labels, batch_size=2, epochs=10)
//! ```
//!
//!     cargo run --release --example masked_lstm

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::data::pad_feature_sequences;
use wgfit::prelude::*;

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());

    let mut rng = StdRng::seed_from_u64(42);
    let data: Vec<Array2<f32>> = (10..20)
        .map(|t| Array2::from_shape_fn((t, 10), |_| rng.random::<f32>()))
        .collect();
    let views: Vec<_> = data.iter().map(|s| s.view()).collect();
    let padded =
        pad_feature_sequences(&views, PadOptions::new().maxlen(19).padding(Padding::Post))?;
    let labels = Array1::from_shape_fn(10, |_| f32::from(u8::from(rng.random_bool(0.5))));

    let inputs = Input::new([None, Some(10)]);
    let masked = Masking::new(0.0).call(&inputs);
    let outputs = Dense::new(1)
        .activation(Activation::Sigmoid)
        .call(&Lstm::new(32).call(&masked));
    let mut model = Model::new(&inputs, &outputs)?;
    model.compile(
        &device,
        Optimizer::adam(),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    print!("{}", model.summary());

    let history = model.fit(&padded, &labels, FitOptions::new().batch_size(2).epochs(10))?;
    println!("final: loss {:.4}", history.loss()[history.epochs() - 1]);
    Ok(())
}
