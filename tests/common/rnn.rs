//! Helpers of the recurrent dropout tests (`tests/rnn_dropout*.rs`).

use wgfit::layers::Layer;
use wgfit::prelude::*;

/// The CPU reference, then the GPU under test when there is one.
pub fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(super::gpu());
    d
}

/// Replaces the layer's weights by `values` (in `params()` order).
pub fn set_params(layer: &mut dyn Layer, device: &Device, values: &[Vec<f32>]) {
    for (p, v) in layer.params_mut().into_iter().zip(values) {
        p.value = Tensor::from_vec(device, p.value.shape().clone(), v.clone()).unwrap();
    }
}

pub fn params(layer: &dyn Layer) -> Vec<Vec<f32>> {
    let p = layer.params();
    p.iter()
        .map(|p| p.value.to_vec_blocking().unwrap())
        .collect()
}

/// Lstm, Gru (both resets) and SimpleRnn with the same options, boxed.
pub fn all_kinds(
    units: usize,
    with: impl Fn(Box<dyn Fn(f32, f32, Option<u64>) -> Box<dyn Layer>>),
) {
    with(Box::new(move |d, r, s| {
        let l = Lstm::new(units).dropout(d).recurrent_dropout(r);
        Box::new(match s {
            Some(s) => l.seed(s),
            None => l,
        })
    }));
    for reset_after in [true, false] {
        with(Box::new(move |d, r, s| {
            let l = Gru::new(units).reset_after(reset_after).dropout(d);
            let l = l.recurrent_dropout(r);
            Box::new(match s {
                Some(s) => l.seed(s),
                None => l,
            })
        }));
    }
    with(Box::new(move |d, r, s| {
        let l = SimpleRnn::new(units).dropout(d).recurrent_dropout(r);
        Box::new(match s {
            Some(s) => l.seed(s),
            None => l,
        })
    }));
}
