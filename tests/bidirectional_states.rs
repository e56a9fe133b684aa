//! `Bidirectional` over a layer with `return_state`, and called with initial states, on the
//! CPU and the GPU: the outputs in Keras's order (merged output(s), the forward layer's
//! states, the backward layer's), each state the last unmasked step of its direction, each
//! direction started from its own half of the initial states, gradients through states
//! against finite differences, and a wrong count of states refused. Keras parity:
//! `tests/keras_bidirectional_states.rs`.

mod common;

use common::padded::padded;
use common::{check_finite_differences, gpu};
use ndarray::{Array2, ArrayD, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wgfit::prelude::*;

fn devices() -> Vec<Device> {
    [Some(Device::cpu()), gpu()].into_iter().flatten().collect()
}

/// Every output of `node`'s layer application, `n` of them.
fn all_outputs(node: &Node, n: usize) -> Vec<Node> {
    (0..n).map(|k| node.output(k).unwrap()).collect()
}

fn compiled(mut model: Model, device: &Device) -> Model {
    model
        .compile(device, Optimizer::sgd(), Loss::MeanSquaredError, &[])
        .unwrap();
    model
}

#[test]
fn outputs_are_the_merged_output_then_the_forward_then_the_backward_states() {
    let mut rng = StdRng::seed_from_u64(21);
    let x = padded(&mut rng, &[4, 1, 5], 3, true);
    for device in devices() {
        let on = device.info();
        let input = Input::new([None, Some(3)]);
        let masked = Masking::new(0.0).call(&input);
        let lstm = Bidirectional::new(Lstm::new(4).return_state(true)).call(&masked);
        let none = Bidirectional::new(Gru::new(2).return_sequences(true).return_state(true))
            .merge_mode(MergeMode::None)
            .call(&masked);
        let outs = [all_outputs(&lstm, 5), all_outputs(&none, 4)].concat();
        let mut model = compiled(Model::new(&input, &outs).unwrap().seed(3), &device);
        let y = model.predict_many(&[x.view().into_dyn()]).unwrap();
        let shapes: Vec<&[usize]> = y.iter().map(|a| a.shape()).collect();
        let want: [&[usize]; 9] = [
            &[3, 8],
            &[3, 4],
            &[3, 4],
            &[3, 4],
            &[3, 4],
            &[3, 5, 2],
            &[3, 5, 2],
            &[3, 2],
            &[3, 2],
        ];
        assert_eq!(shapes, want, "{on}");
        // concat: [h_f, h_b]; the forward h then c, then the backward h then c
        assert_eq!(
            y[0].slice(s![.., ..4]),
            y[1].view().into_dimensionality().unwrap(),
            "{on}: forward h"
        );
        assert_eq!(
            y[0].slice(s![.., 4..]),
            y[3].view().into_dimensionality().unwrap(),
            "{on}: backward h"
        );
        assert_ne!(y[1], y[2], "{on}: c is not h");
        assert_ne!(y[1], y[3], "{on}: the directions differ");
    }
}

/// With `return_sequences` (merge None: each direction's sequence in input order, 0 at masked
/// steps), the forward state is the forward output at the last unmasked step and the backward
/// state the backward output at the first unmasked step, whichever side the padding is on.
#[test]
fn each_state_is_its_directions_last_unmasked_step() {
    let lengths = [4, 1, 6, 3];
    for (post, device) in [true, false]
        .into_iter()
        .flat_map(|p| devices().into_iter().map(move |d| (p, d)))
    {
        let on = format!("{} post {post}", device.info());
        let x = padded(&mut StdRng::seed_from_u64(22), &lengths, 2, post);
        let input = Input::new([None, Some(2)]);
        let both = Bidirectional::new(Lstm::new(3).return_sequences(true).return_state(true))
            .merge_mode(MergeMode::None)
            .call(&Masking::new(0.0).call(&input));
        let mut model = compiled(Model::new(&input, &all_outputs(&both, 6)).unwrap(), &device);
        let y = model.predict_many(&[x.view().into_dyn()]).unwrap();
        let (seq_f, seq_b, h_f, h_b) = (&y[0], &y[1], &y[2], &y[4]);
        for (i, len) in lengths.into_iter().enumerate() {
            let first = if post { 0 } else { 6 - len };
            let last = first + len - 1;
            assert_eq!(
                h_f.slice(s![i, ..]),
                seq_f.slice(s![i, last, ..]),
                "{on}: row {i}"
            );
            assert_eq!(
                h_b.slice(s![i, ..]),
                seq_b.slice(s![i, first, ..]),
                "{on}: row {i}"
            );
            assert!(
                h_f.slice(s![i, ..]).iter().all(|v| *v != 0.0),
                "{on}: row {i}"
            );
        }
    }
}

/// A Bidirectional GRU called on x, h_f and h_b (concat, last states): zero states are no
/// states bit for bit; a forward state changes only the forward half of the output, a backward
/// state only the backward half.
#[test]
fn each_direction_starts_from_its_own_initial_state() {
    let mut rng = StdRng::seed_from_u64(23);
    let x = padded(&mut rng, &[3, 5, 1], 2, false);
    let state = Array2::from_shape_fn((3, 4), |_| rng.random_range(-1.0f32..1.0));
    let zeros = Array2::<f32>::zeros((3, 4));
    for device in devices() {
        let on = device.info();
        let (seq, h_f, h_b) = (
            Input::new([None, Some(2)]),
            Input::new([Some(4)]),
            Input::new([Some(4)]),
        );
        let masked = Masking::new(0.0).call(&seq);
        let shared = Shared::new(Bidirectional::new(Gru::new(4)));
        let from_states = shared.call_many(&[&masked, &h_f, &h_b]);
        let from_zeros = shared.call(&masked);
        let outs = [&from_states, &from_zeros];
        let model = Model::new(&[&seq, &h_f, &h_b], &outs).unwrap().seed(4);
        let mut model = compiled(model, &device);
        let mut run = |f: &Array2<f32>, b: &Array2<f32>| {
            let xs = [
                x.view().into_dyn(),
                f.view().into_dyn(),
                b.view().into_dyn(),
            ];
            model.predict_many(&xs).unwrap()
        };
        let y = run(&zeros, &zeros);
        assert_eq!(y[0], y[1], "{on}: zero initial states");
        let plain = y[1].clone();
        let y = run(&state, &zeros);
        assert_ne!(y[0].slice(s![.., ..4]), plain.slice(s![.., ..4]), "{on}");
        assert_eq!(y[0].slice(s![.., 4..]), plain.slice(s![.., 4..]), "{on}");
        let y = run(&zeros, &state);
        assert_eq!(y[0].slice(s![.., ..4]), plain.slice(s![.., ..4]), "{on}");
        assert_ne!(y[0].slice(s![.., 4..]), plain.slice(s![.., 4..]), "{on}");
    }
}

/// Initial states from Dense layers of a second input `[B, 3]` (so their gradients show in
/// those layers' weights), the merged output(s) and all four states side by side into the
/// loss's Dense(1).
fn through_states(merge: MergeMode, device: &Device) -> Model {
    let (seq, s) = (Input::new([None, Some(2)]), Input::new([Some(3)]));
    let mut inputs = vec![Masking::new(0.0).call(&seq)];
    inputs.extend((0..4).map(|_| Dense::new(2).call(&s)));
    let both = Bidirectional::new(Lstm::new(2).return_state(true))
        .merge_mode(merge)
        .call_many(&inputs.iter().collect::<Vec<_>>());
    let n = if merge == MergeMode::None { 6 } else { 5 };
    let heads = all_outputs(&both, n);
    let joined = Concatenate::new().call_many(&heads.iter().collect::<Vec<_>>());
    let out = Dense::new(1).call(&joined);
    compiled(Model::new(&[&seq, &s], &out).unwrap().seed(8), device)
}

fn state_batch(rng: &mut StdRng) -> (ArrayD<f32>, ArrayD<f32>, ArrayD<f32>) {
    let x = padded(rng, &[3, 1, 4], 2, true).into_dyn();
    let s = ArrayD::from_shape_fn(vec![3, 3], |_| rng.random_range(-1.0f32..1.0));
    let target = ArrayD::from_shape_fn(vec![3, 1], |_| rng.random_range(-1.0f32..1.0));
    (x, s, target)
}

#[test]
fn gradients_through_initial_and_returned_states_match_finite_differences() {
    let mut rng = StdRng::seed_from_u64(24);
    for merge in [MergeMode::Concat, MergeMode::Mul, MergeMode::None] {
        let (x, s, target) = state_batch(&mut rng);
        let mut model = through_states(merge, &Device::cpu());
        let names: Vec<String> = model
            .gradients(&[x.view(), s.view()], &target)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        // the four Dense layers making the initial states get gradients, through the states
        assert_eq!(
            names[..8].iter().filter(|n| n.contains("dense")).count(),
            8,
            "{names:?}"
        );
        check_finite_differences(
            &mut model,
            &[x.view(), s.view()],
            &target,
            &format!("{merge:?}"),
        );
    }
}

#[test]
fn gpu_gradients_through_states_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let (x, s, target) = state_batch(&mut StdRng::seed_from_u64(25));
    let grads = |device: &Device| {
        let mut model = through_states(MergeMode::Concat, device);
        model.gradients(&[x.view(), s.view()], &target).unwrap()
    };
    for ((name, want), (_, got)) in grads(&Device::cpu()).iter().zip(grads(&gpu)) {
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let err = (&got - want).iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(
            err <= 1e-4 * scale.max(1e-3),
            "{name}: GPU differs from the CPU by {err:e} (scale {scale:e})"
        );
    }
}

#[test]
fn a_wrong_number_of_initial_states_is_a_config_error_naming_bidirectional() {
    let seq = Input::new([None, Some(2)]);
    let h: Vec<Node> = (0..3).map(|_| Input::new([Some(3)])).collect();
    let cases: [(&[&Node], &str); 3] = [
        // odd: no half for each direction
        (&[&seq, &h[0], &h[1], &h[2]], "got 3 states"),
        // an LSTM takes h and c per direction: 2 are one each
        (
            &[&seq, &h[0], &h[1]],
            "called with 2 initial states gives each direction 1",
        ),
        (&[&seq, &h[0]], "got 1 state"),
    ];
    for (inputs, want) in cases {
        let out = Bidirectional::new(Lstm::new(3)).call_many(inputs);
        let mut model = Model::new(inputs, &out).unwrap();
        match model.compile(
            &Device::cpu(),
            Optimizer::adam(),
            Loss::MeanSquaredError,
            &[],
        ) {
            Err(Error::Config(msg)) => {
                assert!(
                    msg.contains("bidirectional(lstm)") && msg.contains(want),
                    "{msg}"
                );
            }
            other => panic!("expected a Config error, got {:?}", other.err()),
        }
    }
}

/// A graph that reads only some of a Bidirectional's outputs (the merged output and the
/// forward state, not the backward state) trains: the unread states' gradients are zero,
/// on both devices, against finite differences. (Its backward once refused the shorter list.)
#[test]
fn unread_trailing_states_train_with_zero_gradients() {
    let mut rng = StdRng::seed_from_u64(25);
    for device in devices() {
        for merge in [MergeMode::Concat, MergeMode::None] {
            let seq = Input::new([None, Some(2)]);
            let masked = Masking::new(0.0).call(&seq);
            let both = Bidirectional::new(Gru::new(2).return_state(true))
                .merge_mode(merge)
                .call(&masked);
            // outputs: merged (1, or 2 with None), h_f, h_b; h_b is left unread
            let read = if merge == MergeMode::None { 3 } else { 2 };
            let heads = all_outputs(&both, read);
            let joined = Concatenate::new().call_many(&heads.iter().collect::<Vec<_>>());
            let out = Dense::new(1).call(&joined);
            let mut model = compiled(Model::new(&seq, &out).unwrap().seed(9), &device);
            let (x, _, target) = state_batch(&mut rng);
            let case = format!("{merge:?} on {}", device.info());
            check_finite_differences(&mut model, &x, &target, &case);
            let history = model
                .fit(&x, &target, FitOptions::new().epochs(2).verbose(0))
                .unwrap();
            assert!(history.loss()[1].is_finite(), "{case}");
        }
    }
}
