//! `return_state` and `initial_state` on the recurrent layers, on both devices: the states
//! are the last unmasked step's h (and c), unmasked; a layer called on x and its states starts
//! from them; an encoder-decoder graph trains with `fit`; wrong states are typed errors.

mod common;

use common::golden::devices;
use ndarray::{Array2, Array3, ArrayD, Axis, s};
use wgfit::prelude::*;

/// Post- and pre-padded rows of lengths 1..=T (zeros as padding).
fn padded(b: usize, t: usize, f: usize) -> Array3<f32> {
    Array3::from_shape_fn((b, t, f), |(i, j, k)| {
        let len = 1 + i % t;
        let step = if i % 2 == 0 { j } else { j + len };
        if (i % 2 == 0 && j < len) || (i % 2 == 1 && j >= t - len) {
            ((i * 7 + step * 3 + k) % 11) as f32 / 11.0 - 0.4
        } else {
            0.0
        }
    })
}

/// The outputs of `model` on `x`, one array each.
fn predict_all(model: &mut Model, x: &Array3<f32>) -> Vec<ArrayD<f32>> {
    model.predict_many(&[x.view().into_dyn()]).unwrap()
}

#[test]
fn lstm_states_are_the_last_unmasked_steps_h_and_c() {
    for device in devices() {
        let x = padded(5, 6, 3);
        let input = Input::new([None, Some(3)]);
        let masked = Masking::new(0.0).call(&input);
        let both = Lstm::new(4)
            .return_sequences(true)
            .return_state(true)
            .call(&masked);
        let outs = [
            both.output(0).unwrap(),
            both.output(1).unwrap(),
            both.output(2).unwrap(),
        ];
        let mut model = Model::new(&input, &outs).unwrap();
        model
            .compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])
            .unwrap();
        let y = predict_all(&mut model, &x);
        let (seq, h, c) = (&y[0], &y[1], &y[2]);
        assert_eq!((h.shape(), c.shape()), (&[5, 4][..], &[5, 4][..]));
        for i in 0..5 {
            // masked steps carry the state, so the sequence's last step holds it
            let last = seq.slice(s![i, 5, ..]);
            assert_eq!(h.slice(s![i, ..]), last, "{}: h of row {i}", device.info());
        }
        // c differs from h (it is the cell state): the third output is not h again
        assert_ne!(c, h);
    }
}

#[test]
fn gru_and_simple_rnn_return_their_last_h_as_the_state() {
    for device in devices() {
        let x = padded(4, 5, 2);
        let input = Input::new([None, Some(2)]);
        let masked = Masking::new(0.0).call(&input);
        let g = Gru::new(3).return_state(true).call(&masked);
        let r = SimpleRnn::new(3).return_state(true).call(&masked);
        let outs = [
            g.output(0).unwrap(),
            g.output(1).unwrap(),
            r.output(0).unwrap(),
            r.output(1).unwrap(),
        ];
        let mut model = Model::new(&input, &outs).unwrap();
        model
            .compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])
            .unwrap();
        let y = predict_all(&mut model, &x);
        assert_eq!(y[0], y[1], "GRU: the output is the last state");
        assert_eq!(y[2], y[3], "SimpleRNN: the output is the last state");
    }
}

/// A decoder started from a state differs from one started from zeros, and one started from a
/// zero state is the one without, bit for bit.
#[test]
fn an_initial_state_changes_the_outputs_and_a_zero_one_does_not() {
    for device in devices() {
        let x = padded(3, 4, 2);
        let seq = Input::new([None, Some(2)]);
        let state = Input::new([Some(3)]);
        let shared = Shared::new(Lstm::new(3).return_sequences(true));
        let from_state = shared.call_many(&[&seq, &state, &state]);
        let from_zero = shared.call(&seq);
        let mut model = Model::new(&[&seq, &state], &[&from_state, &from_zero]).unwrap();
        model
            .compile(&device, Optimizer::adam(), Loss::MeanSquaredError, &[])
            .unwrap();
        let zeros = Array2::<f32>::zeros((3, 3)).into_dyn();
        let ones = Array2::<f32>::from_elem((3, 3), 0.5).into_dyn();
        let xs = x.view().into_dyn();
        let y = model.predict_many(&[xs.clone(), zeros.view()]).unwrap();
        assert_eq!(y[0], y[1], "{}: zero initial state", device.info());
        let y = model.predict_many(&[xs, ones.view()]).unwrap();
        assert_ne!(y[0], y[1], "{}: a nonzero initial state", device.info());
        // the state's influence fades along the sequence but reaches its first step
        let d = (&y[0] - &y[1]).mapv(f32::abs);
        assert!(d.index_axis(Axis(1), 0).iter().all(|&v| v > 0.0));
    }
}

/// Reversing 3-digit sequences with an encoder-decoder (teacher forcing): the decoder learns
/// only through its initial state what the source was, so the loss falls only if the
/// gradients reach the encoder through it.
#[test]
fn an_encoder_decoder_trains_with_fit() {
    let (n, t, v): (usize, usize, usize) = (96, 3, 4);
    let digits = |i: usize, j: usize| (i / v.pow(j as u32)) % v;
    let source = Array3::from_shape_fn((n, t, v), |(i, j, k)| {
        (digits(i % 64, j) == k) as u32 as f32
    });
    // decoder input: a start token then the reversed digits, shifted (teacher forcing)
    let target_in = Array3::from_shape_fn((n, t, v + 1), |(i, j, k)| {
        let want = if j == 0 { v } else { digits(i % 64, t - j) };
        (want == k) as u32 as f32
    });
    let y = Array2::from_shape_fn((n, t), |(i, j)| digits(i % 64, t - 1 - j) as f32);
    for device in devices() {
        let src = Input::new([None, Some(v)]);
        let tgt = Input::new([None, Some(v + 1)]);
        let enc = Lstm::new(24).return_state(true).call(&src);
        let (h, c) = (enc.output(1).unwrap(), enc.output(2).unwrap());
        let dec = Lstm::new(24)
            .return_sequences(true)
            .call_many(&[&tgt, &h, &c]);
        let out = Dense::new(v).activation(Activation::Softmax).call(&dec);
        let mut model = Model::new(&[&src, &tgt], &out).unwrap();
        let adam = Optimizer::Adam {
            learning_rate: 0.02,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        };
        model
            .compile(
                &device,
                adam,
                Loss::SparseCategoricalCrossentropy,
                &[Metric::Accuracy],
            )
            .unwrap();
        let xs = [source.view().into_dyn(), target_in.view().into_dyn()];
        let ys = [y.view().into_dyn()];
        let history = model
            .fit(
                &xs,
                &ys,
                FitOptions::new()
                    .epochs(40)
                    .batch_size(32)
                    .verbose(0)
                    .seed(3),
            )
            .unwrap();
        let acc = history.get("accuracy").unwrap();
        assert!(
            *acc.last().unwrap() > 0.9,
            "{}: accuracy {acc:?}",
            device.info()
        );
    }
}

#[test]
fn wrong_initial_states_are_config_errors_naming_the_layer() {
    let seq = Input::new([None, Some(2)]);
    let h = Input::new([Some(5)]);
    // an LSTM takes h and c; a state of the wrong width
    for (model, want) in [
        (
            Model::new(&[&seq, &h], &Lstm::new(3).call_many(&[&seq, &h])),
            "initial state",
        ),
        (
            Model::new(&[&seq, &h], &Gru::new(3).call_many(&[&seq, &h])),
            "[3]",
        ),
    ] {
        let mut model = model.unwrap();
        match model.compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        ) {
            Err(Error::Config(msg)) => assert!(msg.contains(want), "{msg}"),
            other => panic!("expected a Config error, got {:?}", other.err()),
        }
    }
}
