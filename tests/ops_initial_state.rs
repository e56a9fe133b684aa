//! Initial states (Keras's `initial_state`) in the recurrent driver, for the LSTM (per-step
//! and persistent kernels), the GRU (reset after and before) and the SimpleRNN: the GPU
//! against the CPU twin on awkward sizes, masked and not, on poisoned outputs; a zero initial
//! state equals none bit for bit; the initial state's gradients against finite differences.

mod common;

use common::{Input, Tol, cross_check, gpu, random_mask, rng, uniform};
use wgfit::ops::gru_cell::{GruReset, gru_backward_to_state, gru_forward_from};
use wgfit::ops::lstm_cell::{LstmKernel, lstm_backward_to_state, lstm_forward_from};
use wgfit::ops::recurrent::{RecurrentInputs, RecurrentKernel};
use wgfit::ops::simple_rnn_cell::{simple_rnn_backward_to_state, simple_rnn_forward_from};
use wgfit::{Device, Tensor};

/// The optional inputs of a forward pass: a mask and an initial state.
fn from<'a, S>(mask: Option<&'a Tensor>, init: Option<S>) -> RecurrentInputs<'a, S> {
    RecurrentInputs::new().mask(mask).init(init)
}

/// The recurrent cells' tolerance (tests/ops_lstm_cell.rs), or every element within 1e-6:
/// dh0 and dc0 at B = T = U = 1 sum a product per gate, which can cancel to near 0.
const RNN_TOL: Tol = Tol::NormAndScaledOrAbs {
    norm: 1e-5,
    element: 2e-4,
    abs: 1e-6,
};

/// Inputs for a cell of `g` gates: xp [B, T, gU], rk [U, gU], mask [B, T], h0, c0, dh, dc
/// [B, U], dy [B, T, U], rb [gU].
fn inputs(rng: &mut rand::rngs::StdRng, (b, t, u): (usize, usize, usize), g: usize) -> Vec<Input> {
    let scale = 1.0 / (u as f32).sqrt();
    let mut mask = random_mask(rng, b, t);
    // the first step of the first row masked: it carries the initial state
    mask[0] = 0.0;
    vec![
        (vec![b, t, g * u], uniform(rng, b * t * g * u, -2.0, 2.0)),
        (vec![u, g * u], uniform(rng, u * g * u, -scale, scale)),
        (vec![b, t], mask),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, t, u], uniform(rng, b * t * u, -1.0, 1.0)),
        (vec![g * u], uniform(rng, g * u, -0.5, 0.5)),
    ]
}

const SIZES: [(usize, usize, usize); 5] =
    [(1, 1, 1), (2, 7, 3), (3, 5, 13), (5, 4, 67), (67, 6, 37)];

#[test]
fn lstm_from_an_initial_state_matches_cpu_per_step_and_persistent() {
    let mut rng = rng("initial_state_lstm");
    for dims in SIZES {
        let x = inputs(&mut rng, dims, 4);
        for (masked, k) in [false, true]
            .into_iter()
            .flat_map(|m| [(m, LstmKernel::PerStep), (m, LstmKernel::Persistent)])
        {
            let name = format!("lstm {dims:?} masked={masked} {k:?}");
            cross_check(&name, &x, RNN_TOL, |x| {
                let mask = masked.then_some(&x[2]);
                let s = lstm_forward_from(&x[0], &x[1], from(mask, Some((&x[3], &x[4]))), k)?;
                let grads = (Some(&x[5]), Some(&x[6]), Some(&x[7]));
                let g = lstm_backward_to_state(&s, &x[1], mask, grads, k)?;
                Ok(vec![s.hseq, s.cseq, s.hprev, g.dz, g.dh0, g.dc0.unwrap()])
            });
        }
    }
}

#[test]
fn gru_and_simple_rnn_from_an_initial_state_match_cpu() {
    let mut rng = rng("initial_state_gru");
    let k = RecurrentKernel::PerStep;
    for dims in SIZES {
        let x = inputs(&mut rng, dims, 3);
        for (masked, after) in [(false, true), (true, true), (true, false)] {
            let name = format!("gru {dims:?} masked={masked} reset_after={after}");
            cross_check(&name, &x, RNN_TOL, |x| {
                let mask = masked.then_some(&x[2]);
                let reset = if after {
                    GruReset::After(&x[8])
                } else {
                    GruReset::Before
                };
                let s = gru_forward_from(&x[0], &x[1], reset, from(mask, Some(&x[3])), k)?;
                let g = gru_backward_to_state(&s, &x[1], mask, (Some(&x[5]), Some(&x[7])), k)?;
                Ok(vec![s.hseq, s.hprev, g.dz, g.dh0])
            });
        }
        let x = inputs(&mut rng, dims, 1);
        for masked in [false, true] {
            let name = format!("simple_rnn {dims:?} masked={masked}");
            cross_check(&name, &x, RNN_TOL, |x| {
                let mask = masked.then_some(&x[2]);
                let s = simple_rnn_forward_from(&x[0], &x[1], from(mask, Some(&x[3])), k)?;
                let g =
                    simple_rnn_backward_to_state(&s, &x[1], mask, (Some(&x[5]), Some(&x[7])), k)?;
                Ok(vec![s.hseq, s.hprev, g.dz, g.dh0])
            });
        }
    }
}

fn tensors(device: &Device, x: &[Input]) -> wgfit::Result<Vec<Tensor>> {
    x.iter()
        .map(|(d, v)| Tensor::from_vec(device, d.clone(), v.clone()))
        .collect()
}

fn bits(t: &Tensor) -> wgfit::Result<Vec<u32>> {
    Ok(t.to_vec_blocking()?.iter().map(|v| v.to_bits()).collect())
}

#[test]
fn a_zero_initial_state_is_no_initial_state_bit_for_bit() -> wgfit::Result<()> {
    let mut rng = rng("initial_state_zero");
    let devices: Vec<Device> = [Some(Device::cpu()), gpu()].into_iter().flatten().collect();
    let (b, t, u) = (3, 5, 7);
    for device in &devices {
        for k in [LstmKernel::PerStep, LstmKernel::Persistent] {
            let x = tensors(device, &inputs(&mut rng, (b, t, u), 4))?;
            let zero = Tensor::zeros(device, [b, u])?;
            let mask = Some(&x[2]);
            let plain = lstm_forward_from(&x[0], &x[1], from(mask, None), k)?;
            let zeroed = lstm_forward_from(&x[0], &x[1], from(mask, Some((&zero, &zero))), k)?;
            assert_eq!(bits(&plain.hseq)?, bits(&zeroed.hseq)?, "lstm {k:?}");
            assert_eq!(bits(&plain.cseq)?, bits(&zeroed.cseq)?, "lstm {k:?}");
            let grads = (Some(&x[5]), None, Some(&x[7]));
            let a = lstm_backward_to_state(&plain, &x[1], mask, grads, k)?;
            let z = lstm_backward_to_state(&zeroed, &x[1], mask, grads, k)?;
            assert_eq!(bits(&a.dz)?, bits(&z.dz)?, "lstm dz {k:?}");
            assert_eq!(bits(&a.dh0)?, bits(&z.dh0)?, "lstm dh0 {k:?}");
        }
        let k = RecurrentKernel::PerStep;
        let x = tensors(device, &inputs(&mut rng, (b, t, u), 3))?;
        let zero = Tensor::zeros(device, [b, u])?;
        let reset = GruReset::After(&x[8]);
        let plain = gru_forward_from(&x[0], &x[1], reset, from(Some(&x[2]), None), k)?;
        let zeroed = gru_forward_from(&x[0], &x[1], reset, from(Some(&x[2]), Some(&zero)), k)?;
        assert_eq!(bits(&plain.hseq)?, bits(&zeroed.hseq)?, "gru");
        let x = tensors(device, &inputs(&mut rng, (b, t, u), 1))?;
        let plain = simple_rnn_forward_from(&x[0], &x[1], from(Some(&x[2]), None), k)?;
        let zeroed = simple_rnn_forward_from(&x[0], &x[1], from(Some(&x[2]), Some(&zero)), k)?;
        assert_eq!(bits(&plain.hseq)?, bits(&zeroed.hseq)?, "simple_rnn");
    }
    Ok(())
}

/// Central differences of `loss` at `v[i]`.
fn fd(v: &[f32], i: usize, loss: impl Fn(&[f32]) -> wgfit::Result<f64>) -> wgfit::Result<f64> {
    let eps = 1e-2f32;
    let (mut plus, mut minus) = (v.to_vec(), v.to_vec());
    (plus[i], minus[i]) = (plus[i] + eps, minus[i] - eps);
    Ok((loss(&plus)? - loss(&minus)?) / (2.0 * f64::from(eps)))
}

fn close(what: &str, got: f32, want: f64) {
    let err = (want - f64::from(got)).abs();
    assert!(
        err <= 2e-3 * (1.0 + want.abs()),
        "{what}: {got} vs finite differences {want}"
    );
}

/// dh0 and dc0 are the gradients of `Σ dy · hseq + Σ dc · c_last` w.r.t. h0 and c0, with the
/// first step of a row masked (the state passes through it) on the CPU.
#[test]
fn initial_state_gradients_match_finite_differences() -> wgfit::Result<()> {
    let mut rng = rng("initial_state_fd");
    let (b, t, u) = (2, 4, 3);
    let device = Device::cpu();
    let x = tensors(&device, &inputs(&mut rng, (b, t, u), 4))?;
    let (dy, dc) = (x[7].to_vec_blocking()?, x[6].to_vec_blocking()?);
    let k = LstmKernel::Auto;
    let t_ = |v: &[f32]| Tensor::from_vec(&device, [b, u], v.to_vec());
    let loss = |h0: &[f32], c0: &[f32]| -> wgfit::Result<f64> {
        let s = lstm_forward_from(
            &x[0],
            &x[1],
            from(Some(&x[2]), Some((&t_(h0)?, &t_(c0)?))),
            k,
        )?;
        let (h, c) = (s.hseq.to_vec_blocking()?, s.cseq.to_vec_blocking()?);
        let last: f64 = (0..b * u)
            .map(|i| f64::from(c[((i / u) * t + t - 1) * u + i % u]) * f64::from(dc[i]))
            .sum();
        Ok(h.iter()
            .zip(&dy)
            .map(|(&h, &d)| f64::from(h) * f64::from(d))
            .sum::<f64>()
            + last)
    };
    let (h0, c0) = (x[3].to_vec_blocking()?, x[4].to_vec_blocking()?);
    let s = lstm_forward_from(&x[0], &x[1], from(Some(&x[2]), Some((&x[3], &x[4]))), k)?;
    let g = lstm_backward_to_state(&s, &x[1], Some(&x[2]), (None, Some(&x[6]), Some(&x[7])), k)?;
    let (dh0, dc0) = (g.dh0.to_vec_blocking()?, g.dc0.unwrap().to_vec_blocking()?);
    for i in 0..b * u {
        close(
            &format!("lstm dh0[{i}]"),
            dh0[i],
            fd(&h0, i, |v| loss(v, &c0))?,
        );
        close(
            &format!("lstm dc0[{i}]"),
            dc0[i],
            fd(&c0, i, |v| loss(&h0, v))?,
        );
    }
    let rk = RecurrentKernel::Auto;
    for after in [true, false] {
        let x = tensors(&device, &inputs(&mut rng, (b, t, u), 3))?;
        let dy = x[7].to_vec_blocking()?;
        let reset = || {
            if after {
                GruReset::After(&x[8])
            } else {
                GruReset::Before
            }
        };
        let loss = |h0: &[f32]| -> wgfit::Result<f64> {
            let s = gru_forward_from(&x[0], &x[1], reset(), from(Some(&x[2]), Some(&t_(h0)?)), rk)?;
            let h = s.hseq.to_vec_blocking()?;
            Ok(h.iter()
                .zip(&dy)
                .map(|(&h, &d)| f64::from(h) * f64::from(d))
                .sum())
        };
        let h0 = x[3].to_vec_blocking()?;
        let s = gru_forward_from(&x[0], &x[1], reset(), from(Some(&x[2]), Some(&x[3])), rk)?;
        let g = gru_backward_to_state(&s, &x[1], Some(&x[2]), (None, Some(&x[7])), rk)?;
        let dh0 = g.dh0.to_vec_blocking()?;
        for (i, &d) in dh0.iter().enumerate() {
            close(
                &format!("gru(after={after}) dh0[{i}]"),
                d,
                fd(&h0, i, loss)?,
            );
        }
    }
    let x = tensors(&device, &inputs(&mut rng, (b, t, u), 1))?;
    let dy = x[7].to_vec_blocking()?;
    let loss = |h0: &[f32]| -> wgfit::Result<f64> {
        let s = simple_rnn_forward_from(&x[0], &x[1], from(Some(&x[2]), Some(&t_(h0)?)), rk)?;
        let h = s.hseq.to_vec_blocking()?;
        Ok(h.iter()
            .zip(&dy)
            .map(|(&h, &d)| f64::from(h) * f64::from(d))
            .sum())
    };
    let h0 = x[3].to_vec_blocking()?;
    let s = simple_rnn_forward_from(&x[0], &x[1], from(Some(&x[2]), Some(&x[3])), rk)?;
    let g = simple_rnn_backward_to_state(&s, &x[1], Some(&x[2]), (None, Some(&x[7])), rk)?;
    let dh0 = g.dh0.to_vec_blocking()?;
    for (i, &d) in dh0.iter().enumerate() {
        close(&format!("simple_rnn dh0[{i}]"), d, fd(&h0, i, loss)?);
    }
    Ok(())
}
