//! `dropout` and `recurrent_dropout` on LSTM, GRU and SimpleRNN: gradients through fixed
//! masks against finite differences (input masks, recurrent masks, both; with initial states)
//! and the GPU's against the CPU's, on its per-step and persistent kernels.

mod common;

use common::rnn::{all_kinds, devices, params, set_params};
use rand::SeedableRng;
use rand::rngs::StdRng;
use wgfit::layers::{Dims, Layer};
use wgfit::ops::recurrent::RecurrentKernel;
use wgfit::prelude::*;

/// Inputs as host values: x `[B, T, F]` then the initial states `[B, U]`.
type Inputs = Vec<Vec<f32>>;

#[test]
fn gradients_through_fixed_masks_match_finite_differences_and_the_gpu_the_cpu() {
    let mut rng = common::rng("rnn dropout gradients");
    let (b, t, f, u) = (3, 4, 5, 3);
    let x = common::uniform(&mut rng, b * t * f, -1.0, 1.0);
    let states: Inputs = (0..2)
        .map(|_| common::uniform(&mut rng, b * u, -0.5, 0.5))
        .collect();
    // sample 1 ends one step early, sample 2 two (post-padding)
    let seq_mask: Vec<f32> = (0..b * t).map(|i| f32::from(i % t + i / t < t)).collect();
    let dy = common::uniform(&mut rng, b * u, -1.0, 1.0);
    for (d, r) in [(0.4, 0.0), (0.0, 0.3), (0.4, 0.3)] {
        all_kinds(u, |make| {
            let n_states = if make(0.0, 0.0, None).kind() == "lstm" {
                2
            } else {
                1
            };
            let dims: Vec<Dims> = std::iter::once(vec![None, Some(f)])
                .chain((0..n_states).map(|_| vec![Some(u)]))
                .collect();
            // A layer built afresh draws call 0's masks of its seed: the same every time.
            let fresh = |device: &Device, w: Option<&[Vec<f32>]>| {
                let mut l = make(d, r, Some(1));
                l.build(device, &dims, &mut StdRng::seed_from_u64(0))
                    .unwrap();
                if let Some(w) = w {
                    set_params(&mut *l, device, w);
                }
                l
            };
            let cpu = Device::cpu();
            let w0 = params(&*fresh(&cpu, None));
            let what = format!("{} dropout {d} recurrent {r}", fresh(&cpu, None).kind());
            let in0: Inputs = std::iter::once(x.clone())
                .chain(states[..n_states].iter().cloned())
                .collect();
            // h_last of the layer called on (x, initial states) with the sequence mask
            let forward = |layer: &dyn Layer, device: &Device, ins: &Inputs| {
                let xt = Tensor::from_vec(device, [b, t, f], ins[0].clone()).unwrap();
                let st: Vec<Tensor> = ins[1..]
                    .iter()
                    .map(|s| Tensor::from_vec(device, [b, u], s.clone()).unwrap())
                    .collect();
                let m = Tensor::from_vec(device, [b, t], seq_mask.clone()).unwrap();
                let all: Vec<&Tensor> = std::iter::once(&xt).chain(&st).collect();
                let masks: Vec<Option<&Tensor>> = std::iter::once(Some(&m))
                    .chain(st.iter().map(|_| None))
                    .collect();
                layer.forward(&all, &masks, true).unwrap()
            };
            // loss = Σ dy ⊙ h_last, and its gradients by backward
            let grads = |device: &Device| {
                let layer = fresh(device, Some(&w0));
                let fwd = forward(&*layer, device, &in0);
                let dyt = Tensor::from_vec(device, [b, u], dy.clone()).unwrap();
                let need = vec![true; in0.len()];
                let back = layer.backward(&fwd.saved, &[dyt], &need).unwrap();
                let host = |t: &Tensor| t.to_vec_blocking().unwrap();
                let dins: Inputs = back
                    .inputs
                    .iter()
                    .map(|g| host(g.as_ref().unwrap()))
                    .collect();
                let dw: Vec<Vec<f32>> = back.params.iter().map(host).collect();
                (dins, dw)
            };
            let loss = |ins: &Inputs, w: &[Vec<f32>]| -> f64 {
                let layer = fresh(&cpu, Some(w));
                let fwd = forward(&*layer, &cpu, ins);
                let h = fwd.outputs[0].to_vec_blocking().unwrap();
                h.iter().zip(&dy).map(|(&h, &d)| f64::from(h * d)).sum()
            };
            let (dins, dw) = grads(&cpu);
            let eps = 1e-2f32;
            let check = |name: &str, i: usize, analytic: f32, plus: f64, minus: f64| {
                let fd = ((plus - minus) / f64::from(2.0 * eps)) as f32;
                let tol = 2e-3 + 1e-2 * analytic.abs();
                assert!(
                    (fd - analytic).abs() < tol,
                    "{what} {name}[{i}]: {analytic} vs fd {fd}"
                );
            };
            for (k, din) in dins.iter().enumerate() {
                for i in 0..din.len() {
                    let (mut ip, mut im) = (in0.clone(), in0.clone());
                    ip[k][i] += eps;
                    im[k][i] -= eps;
                    check(
                        &format!("input {k}"),
                        i,
                        din[i],
                        loss(&ip, &w0),
                        loss(&im, &w0),
                    );
                }
            }
            for (p, dp) in dw.iter().enumerate() {
                for i in 0..dp.len() {
                    let (mut wp, mut wm) = (w0.clone(), w0.clone());
                    wp[p][i] += eps;
                    wm[p][i] -= eps;
                    check(
                        &format!("param {p}"),
                        i,
                        dp[i],
                        loss(&in0, &wp),
                        loss(&in0, &wm),
                    );
                }
            }
            if r == 0.0 {
                // One input mask: a dropped feature's dx is 0 at every step.
                let dx = &dins[0];
                let dropped = (0..b * f)
                    .filter(|&bf| (0..t).all(|s| dx[((bf / f) * t + s) * f + bf % f] == 0.0))
                    .count();
                assert!(dropped > 0, "{what}: no feature dropped");
            }
            for device in devices().iter().skip(1) {
                let (gins, gdw) = grads(device);
                let pairs = gins.iter().zip(&dins).chain(gdw.iter().zip(&dw));
                for (k, (g, c)) in pairs.enumerate() {
                    let err = common::scaled_rel_err(g, c);
                    assert!(
                        err < 1e-3,
                        "{what} gradient {k} on {}: {err}",
                        device.info()
                    );
                }
            }
        });
    }
}

#[test]
fn per_step_and_persistent_kernels_apply_the_masks_as_the_cpu_does() {
    let Some(gpu) = common::gpu() else { return };
    let mut rng = common::rng("rnn dropout kernels");
    let (b, t, f, u) = (5, 6, 4, 7);
    let x = common::uniform(&mut rng, b * t * f, -1.0, 1.0);
    let dy = common::uniform(&mut rng, b * u, -1.0, 1.0);
    type Make = fn(RecurrentKernel) -> Box<dyn Layer>;
    let kinds: [Make; 4] = [
        |k| {
            Box::new(
                Lstm::new(7)
                    .kernel(k)
                    .dropout(0.3)
                    .recurrent_dropout(0.3)
                    .seed(1),
            )
        },
        |k| {
            Box::new(
                Gru::new(7)
                    .kernel(k)
                    .dropout(0.3)
                    .recurrent_dropout(0.3)
                    .seed(1),
            )
        },
        |k| {
            let gru = Gru::new(7).reset_after(false).kernel(k).dropout(0.3);
            Box::new(gru.recurrent_dropout(0.3).seed(1))
        },
        |k| {
            Box::new(
                SimpleRnn::new(7)
                    .kernel(k)
                    .dropout(0.3)
                    .recurrent_dropout(0.3)
                    .seed(1),
            )
        },
    ];
    for make in kinds {
        // every step's h and all gradients, on `device` with `kernel`, from call 0's masks
        let run_on = |device: &Device, kernel, w: Option<&[Vec<f32>]>| {
            let mut layer = make(kernel);
            layer
                .build(
                    device,
                    &[vec![None, Some(f)]],
                    &mut StdRng::seed_from_u64(0),
                )
                .unwrap();
            if let Some(w) = w {
                set_params(&mut *layer, device, w);
            }
            let xt = Tensor::from_vec(device, [b, t, f], x.clone()).unwrap();
            let fwd = layer.forward(&[&xt], &[None], true).unwrap();
            let h = fwd.outputs[0].to_vec_blocking().unwrap();
            let dyt = Tensor::from_vec(device, [b, u], dy.clone()).unwrap();
            let back = layer.backward(&fwd.saved, &[dyt], &[true]).unwrap();
            let mut all = vec![
                h,
                back.inputs[0].as_ref().unwrap().to_vec_blocking().unwrap(),
            ];
            all.extend(back.params.iter().map(|p| p.to_vec_blocking().unwrap()));
            (params(&*layer), all, layer.kind())
        };
        let (w, want, kind) = run_on(&Device::cpu(), RecurrentKernel::Auto, None);
        for kernel in [RecurrentKernel::PerStep, RecurrentKernel::Persistent] {
            let (_, got, _) = run_on(&gpu, kernel, Some(&w));
            for (i, (g, c)) in got.iter().zip(&want).enumerate() {
                let err = common::scaled_rel_err(g, c);
                assert!(
                    err < 1e-3,
                    "{kind} {kernel:?} output {i}: {err} from the CPU's"
                );
            }
        }
    }
}
