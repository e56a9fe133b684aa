//! The SimpleRNN cell kernels against their CPU twin (the recurrent driver's SimpleRNN cell):
//! forward over all steps and backward through time, with and without a mask, from the last
//! state or from every step's output, for units of 1, primes and past one workgroup, a batch
//! the CPU splits over threads, on poisoned outputs and a split grid; the gradient against
//! finite differences (the persistent kernels: tests/ops_recurrent_persistent.rs).

mod common;

use common::{Input, Tol, cross_check, random_mask, rng, uniform};
use wgfit::ops::simple_rnn_cell::{
    RecurrentKernel, simple_rnn_backward_with, simple_rnn_forward_with,
};
use wgfit::{Device, Tensor};

/// The LSTM's and GRU's tolerance (tests/ops_lstm_cell.rs).
const RNN_TOL: Tol = Tol::NormAndScaled {
    norm: 1e-5,
    element: 2e-4,
};

/// Inputs: xp [B, T, U], rk [U, U], mask [B, T], dh [B, U], dy [B, T, U].
fn inputs(rng: &mut rand::rngs::StdRng, b: usize, t: usize, u: usize) -> [Input; 5] {
    let scale = 1.0 / (u as f32).sqrt();
    [
        (vec![b, t, u], uniform(rng, b * t * u, -2.0, 2.0)),
        (vec![u, u], uniform(rng, u * u, -scale, scale)),
        (vec![b, t], random_mask(rng, b, t)),
        (vec![b, u], uniform(rng, b * u, -1.0, 1.0)),
        (vec![b, t, u], uniform(rng, b * t * u, -1.0, 1.0)),
    ]
}

#[test]
fn simple_rnn_forward_and_backward_match_cpu() {
    let mut rng = rng("simple_rnn_cell");
    for &(b, t, u) in &[
        (1, 1, 1),
        (2, 7, 3),
        (3, 5, 13),
        (4, 3, 67),
        (2, 4, 257),
        (67, 31, 40),
    ] {
        let inputs = inputs(&mut rng, b, t, u);
        for masked in [false, true] {
            let name = format!("simple_rnn B={b} T={t} U={u} masked={masked}");
            cross_check(&name, &inputs, RNN_TOL, |x| {
                let mask = masked.then_some(&x[2]);
                let k = RecurrentKernel::PerStep;
                let s = simple_rnn_forward_with(&x[0], &x[1], mask, k)?;
                let from_last = simple_rnn_backward_with(&s, &x[1], mask, Some(&x[3]), None, k)?;
                let from_seq = simple_rnn_backward_with(&s, &x[1], mask, None, Some(&x[4]), k)?;
                Ok(vec![s.hseq, s.hprev, from_last, from_seq])
            });
        }
    }
}

/// dz is the gradient of `Σ dy · hseq` w.r.t. xp: against central differences of the CPU
/// forward, with a row post-padded and one pre-padded.
#[test]
fn gradient_matches_finite_differences_on_the_cpu() -> wgfit::Result<()> {
    let mut rng = rng("simple_rnn_fd");
    let (b, t, u) = (2, 4, 3);
    let x = inputs(&mut rng, b, t, u);
    let device = Device::cpu();
    let tensor = |v: &[f32], dims: &[usize]| Tensor::from_vec(&device, dims.to_vec(), v.to_vec());
    let mut m = vec![1.0; b * t];
    (m[3], m[4]) = (0.0, 0.0);
    let (mask, rk, dy) = (tensor(&m, &[b, t])?, tensor(&x[1].1, &[u, u])?, &x[4].1);
    let k = RecurrentKernel::Auto;
    let forward =
        |xp: &[f32]| simple_rnn_forward_with(&tensor(xp, &[b, t, u])?, &rk, Some(&mask), k);
    let loss = |xp: &[f32]| -> wgfit::Result<f64> {
        let h = forward(xp)?.hseq.to_vec_blocking()?;
        Ok(h.iter()
            .zip(dy)
            .map(|(&h, &d)| f64::from(h) * f64::from(d))
            .sum())
    };
    let xp = &x[0].1;
    let dy_t = tensor(dy, &[b, t, u])?;
    let dz = simple_rnn_backward_with(&forward(xp)?, &rk, Some(&mask), None, Some(&dy_t), k)?
        .to_vec_blocking()?;
    let eps = 1e-2f32;
    for i in 0..xp.len() {
        let (mut plus, mut minus) = (xp.clone(), xp.clone());
        (plus[i], minus[i]) = (plus[i] + eps, minus[i] - eps);
        let fd = (loss(&plus)? - loss(&minus)?) / (2.0 * f64::from(eps));
        let err = (fd - f64::from(dz[i])).abs();
        assert!(
            err <= 2e-3 * (1.0 + fd.abs()),
            "xp[{i}]: dz {} vs {fd}",
            dz[i]
        );
    }
    Ok(())
}
