//! The seed's second program:
//!
//! ```python
//! padded = pad_sequences([[1, 2, 3], [4, 5], [6, 7, 8, 9]], maxlen=4, padding='post')
//! model = Sequential([Embedding(input_dim=10, output_dim=32, input_length=4), LSTM(64),
//!                     Dense(1, activation='sigmoid')])
//! model.compile(optimizer='adam', loss='binary_crossentropy', metrics=['accuracy'])
//! model.fit(padded, np.array([0, 1, 0]), batch_size=2, epochs=10)
//! ```
//!
//!     cargo run --release --example embedding_lstm

use ndarray::arr1;
use wgfit::data::{PadOptions, Padding, pad_sequences};
use wgfit::layers::{Embedding, Lstm};
use wgfit::prelude::*;

fn main() -> anyhow::Result<()> {
    let device = Device::auto()?;
    println!("device: {}", device.info());

    let padded = pad_sequences(
        &[
            vec![1.0, 2.0, 3.0],
            vec![4.0, 5.0],
            vec![6.0, 7.0, 8.0, 9.0],
        ],
        PadOptions::new().maxlen(4).padding(Padding::Post),
    )?;
    println!("padded:\n{padded}");
    let mut model = Sequential::new()
        .add(Embedding::new(10, 32).input_length(4))
        .add(Lstm::new(64))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    model.compile(
        &device,
        Optimizer::adam(),
        Loss::BinaryCrossentropy,
        &[Metric::Accuracy],
    )?;
    let labels = arr1(&[0.0f32, 1.0, 0.0]);
    let history = model.fit(&padded, &labels, FitOptions::new().batch_size(2).epochs(10))?;
    println!("final: loss {:.4}", history.loss()[history.epochs() - 1]);
    Ok(())
}
