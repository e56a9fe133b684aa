//! Files written by wgfit 0.1 before the model core was rebuilt (commit 09ac6b8, the program
//! in `BENCHMARKS.md`'s section of 2026-12-02) still load: weights and checkpoints of the seed
//! MLP and a masked LSTM, predicting what they predicted then.

mod common;

use common::golden::{Golden, check, dir};
use wgfit::prelude::*;

fn mlp() -> Sequential {
    Sequential::new()
        .add(Flatten::new().input_shape([6, 7]))
        .add(Dense::new(16).activation(Activation::Relu))
        .add(Dense::new(3).activation(Activation::Softmax))
}

fn masked_lstm() -> Sequential {
    Sequential::new()
        .add(Masking::new(0.0).input_shape([None, Some(3)]))
        .add(Lstm::new(4))
        .add(Dense::new(1).activation(Activation::Sigmoid))
}

fn loads(name: &str, make: fn() -> Sequential, loss: Loss) {
    let expect = Golden::load_tensors(&format!("legacy_v0_1_{name}.expect"));
    let (x, pred) = (&expect["x"], &expect["pred"]);
    for device in std::iter::once(Device::cpu()).chain(common::gpu()) {
        let on = format!("{name} on {}", device.info());
        let mut model = make();
        model
            .compile(&device, Optimizer::adam(), loss, &[])
            .unwrap();
        model
            .load_weights(dir().join(format!("legacy_v0_1_{name}.weights.safetensors")))
            .unwrap();
        check(
            &format!("{on}: weights file"),
            &model.predict(x).unwrap(),
            pred,
            1e-6,
        );

        let mut resumed = make().seed(99);
        resumed
            .compile(&device, Optimizer::adam(), loss, &[])
            .unwrap();
        let epochs = resumed
            .load_checkpoint(dir().join(format!("legacy_v0_1_{name}.checkpoint.safetensors")))
            .unwrap();
        assert_eq!(epochs, 1, "{on}");
        check(
            &format!("{on}: checkpoint"),
            &resumed.predict(x).unwrap(),
            pred,
            1e-6,
        );
        if matches!(device, Device::Cpu) {
            assert_eq!(
                model.predict(x).unwrap(),
                *pred,
                "{on}: bit for bit on the CPU"
            );
        }
    }
}

#[test]
fn weights_and_checkpoints_of_wgfit_0_1_still_load() {
    loads("mlp", mlp, Loss::CategoricalCrossentropy);
    loads("masked_lstm", masked_lstm, Loss::BinaryCrossentropy);
}
