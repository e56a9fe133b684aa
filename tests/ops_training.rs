//! Cross-backend checks of the kernels training needs beyond the core ops: losses and their
//! gradients, accuracy, SGD and RMSprop updates, and the row gather that batches a resident
//! dataset. Same rules as tests/ops.rs: fresh random inputs, poisoned outputs, 1e-5.

mod common;

use common::{Input, Tol, cross_check, gpu, gpu_split, random_input, rng, uniform};
use rand::Rng;
use wgfit::ops::gather::gather_rows;
use wgfit::ops::loss::{
    accuracy_binary, accuracy_categorical, bce_backward, bce_forward, cce_backward, cce_forward,
    mse_backward, mse_forward, sigmoid_xent_forward,
};
use wgfit::ops::rmsprop::{RmsPropStep, rmsprop_update};
use wgfit::ops::sgd::sgd_update;
use wgfit::{Device, Tensor};

const SHAPES: &[(usize, usize)] = &[(1, 1), (7, 10), (131, 3), (2, 300), (300, 1)];

#[test]
fn losses_and_their_gradients_match_cpu() {
    let mut rng = rng("loss");
    for &(r, c) in SHAPES {
        let z = (vec![r, c], uniform(&mut rng, r * c, -12.0, 12.0));
        // Probabilities include values past the clipping range on both sides.
        let p = (
            vec![r, c],
            uniform(&mut rng, r * c, -0.05, 1.05)
                .iter()
                .map(|v| v.clamp(0.0, 1.0))
                .collect(),
        );
        let y = (
            vec![r, c],
            (0..r * c)
                .map(|_| f32::from(u8::from(rng.random_bool(0.5))))
                .collect::<Vec<_>>(),
        );
        let scale = 1.0 / (r * c) as f32;
        let name = format!("[{r}, {c}]");
        cross_check(
            &format!("sigmoid_xent {name}"),
            &[z.clone(), y.clone()],
            Tol::Rel(1e-5),
            |t| {
                let (probs, loss) = sigmoid_xent_forward(&t[0], &t[1])?;
                Ok(vec![probs, loss])
            },
        );
        cross_check(
            &format!("bce {name}"),
            &[p.clone(), y.clone()],
            Tol::Rel(1e-5),
            |t| {
                Ok(vec![
                    bce_forward(&t[0], &t[1])?,
                    bce_backward(&t[0], &t[1], scale)?,
                ])
            },
        );
        cross_check(
            &format!("mse {name}"),
            &[z.clone(), p.clone()],
            Tol::Rel(1e-5),
            |t| {
                Ok(vec![
                    mse_forward(&t[0], &t[1])?,
                    mse_backward(&t[0], &t[1], scale)?,
                ])
            },
        );
        let positive = (vec![r, c], uniform(&mut rng, r * c, 0.01, 1.0));
        cross_check(
            &format!("cce {name}"),
            &[positive.clone(), p.clone()],
            Tol::Rel(1e-5),
            |t| {
                Ok(vec![
                    cce_forward(&t[0], &t[1])?,
                    cce_backward(&t[0], &t[1], scale)?,
                ])
            },
        );
        cross_check(
            &format!("softmax_backward {name}"),
            &[positive, z.clone()],
            // p (dy - sum(dy p)) cancels where dy is near the sum, and the GPU sums in another order:
            // compared relative to the output's norm, like matmul.
            Tol::Norm(1e-5),
            |t| Ok(vec![wgfit::ops::softmax::softmax_backward(&t[0], &t[1])?]),
        );
        cross_check(&format!("accuracy {name}"), &[z, p], Tol::Rel(0.0), |t| {
            Ok(vec![
                accuracy_categorical(&t[0], &t[1])?,
                accuracy_binary(&t[0], &t[1])?,
            ])
        });
    }
}

#[test]
fn sgd_and_rmsprop_updates_match_cpu_with_and_without_momentum() {
    let mut rng = rng("optimizers");
    for n in [1, 7, 131, 1000] {
        let state = |rng: &mut rand::rngs::StdRng| -> Vec<Input> {
            // Weights away from 0, so that an update which nearly cancels a weight (where f32
            // rounding of the inputs alone decides the digits) does not pass for a kernel error.
            let w: Vec<f32> = uniform(rng, n, 0.5, 1.5)
                .into_iter()
                .map(|v| if rng.random_bool(0.5) { v } else { -v })
                .collect();
            let mut v = vec![
                (vec![n], w),
                (vec![n], uniform(rng, n, 0.0, 0.01)),
                // Momentum of the size lr * g gives it, as in training.
                (vec![n], uniform(rng, n, -0.01, 0.01)),
            ];
            v.extend((0..3).map(|_| random_input(rng, &[n])));
            v
        };
        for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
            let inputs = state(&mut rng);
            cross_check(
                &format!("sgd [{n}] momentum {momentum} nesterov {nesterov}"),
                &inputs,
                Tol::Rel(1e-5),
                |t| {
                    for g in &t[3..] {
                        sgd_update(&t[0], &t[2], g, 0.01, momentum, nesterov)?;
                    }
                    Ok(vec![t[0].clone(), t[2].clone()])
                },
            );
            let inputs = state(&mut rng);
            let step = RmsPropStep {
                lr: 0.001,
                rho: 0.9,
                momentum,
                epsilon: 1e-7,
            };
            cross_check(
                &format!("rmsprop [{n}] momentum {momentum}"),
                &inputs,
                Tol::Rel(1e-5),
                |t| {
                    for g in &t[3..] {
                        rmsprop_update(&t[0], &t[1], &t[2], g, step)?;
                    }
                    Ok(vec![t[0].clone(), t[1].clone(), t[2].clone()])
                },
            );
        }
    }
}

#[test]
fn gathered_rows_match_cpu_including_repeats() {
    let mut rng = rng("gather");
    for &(rows, cols, picks) in &[(1, 1, 1), (7, 13, 7), (131, 3, 300), (300, 257, 17)] {
        let src = uniform(&mut rng, rows * cols, -1.0, 1.0);
        let idx: Vec<u32> = (0..picks)
            .map(|_| rng.random_range(0..rows as u32))
            .collect();
        let run = |device: &Device| {
            let s = Tensor::from_vec(device, [rows, cols], src.clone()).unwrap();
            let i = Tensor::from_u32(device, [picks], idx.clone()).unwrap();
            gather_rows(&s, &i).unwrap().to_vec_blocking().unwrap()
        };
        let want = run(&Device::cpu());
        for device in [gpu(), gpu_split()].into_iter().flatten() {
            assert_eq!(
                run(&device),
                want,
                "gather [{rows}, {cols}] x {picks} on {}",
                device.info()
            );
        }
    }
}

#[test]
fn gathering_an_index_past_the_rows_is_a_data_error_on_the_cpu() {
    let src = Tensor::zeros(&Device::cpu(), [3, 2]).unwrap();
    let idx = Tensor::from_u32(&Device::cpu(), [2], vec![1, 3]).unwrap();
    match gather_rows(&src, &idx) {
        Err(wgfit::Error::Data(m)) => assert!(m.contains("index 3 at position 1"), "{m}"),
        other => panic!("expected a data error, got {other:?}"),
    }
}

/// Batch-mean loss from per-row values, in f64.
fn mean_of(rows: &Tensor) -> f64 {
    let v = rows.to_vec_blocking().unwrap();
    v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64
}

#[test]
fn every_loss_gradient_matches_central_finite_differences_on_the_cpu() {
    let device = Device::cpu();
    let mut rng = rng("loss_fd");
    let (r, c) = (3, 4);
    let y_bin: Vec<f32> = (0..r * c)
        .map(|_| f32::from(u8::from(rng.random_bool(0.5))))
        .collect();
    let mut y_hot = vec![0.0; r * c];
    for row in 0..r {
        y_hot[row * c + rng.random_range(0..c)] = 1.0;
    }
    let probs = uniform(&mut rng, r * c, 0.05, 0.95);
    let logits = uniform(&mut rng, r * c, -3.0, 3.0);
    type Fwd = Box<dyn Fn(&Tensor, &Tensor) -> Tensor>;
    type Bwd = Box<dyn Fn(&Tensor, &Tensor) -> Tensor>;
    type Case = (&'static str, Vec<f32>, Vec<f32>, Fwd, Bwd);
    let elem = 1.0 / (r * c) as f32;
    let positive = uniform(&mut rng, r * c, 0.05, 1.0);
    let weights = uniform(&mut rng, r * c, -1.0, 1.0);
    let cases: Vec<Case> = vec![
        (
            "cce",
            positive,
            y_hot.clone(),
            Box::new(|p, y| cce_forward(p, y).unwrap()),
            Box::new(move |p, y| cce_backward(p, y, 1.0 / r as f32).unwrap()),
        ),
        (
            // softmax then a weighted sum (w plays y): d/dz of mean_rows sum_c w_c softmax(z)_c
            "softmax",
            logits.clone(),
            weights,
            Box::new(|z, w| {
                let p = wgfit::ops::softmax::softmax(z).unwrap();
                let prod =
                    wgfit::ops::elementwise::binary(&p, w, wgfit::ops::elementwise::BinaryOp::Mul)
                        .unwrap();
                wgfit::ops::reduce::sum(&prod, 1).unwrap()
            }),
            Box::new(move |z, w| {
                let p = wgfit::ops::softmax::softmax(z).unwrap();
                let dy = wgfit::ops::elementwise::affine(w, 1.0 / r as f32, 0.0).unwrap();
                wgfit::ops::softmax::softmax_backward(&p, &dy).unwrap()
            }),
        ),
        (
            "bce",
            probs.clone(),
            y_bin.clone(),
            Box::new(|p, y| bce_forward(p, y).unwrap()),
            Box::new(move |p, y| bce_backward(p, y, elem).unwrap()),
        ),
        (
            "mse",
            probs,
            y_bin.clone(),
            Box::new(|p, y| mse_forward(p, y).unwrap()),
            Box::new(move |p, y| mse_backward(p, y, elem).unwrap()),
        ),
        (
            "sigmoid_xent",
            logits.clone(),
            y_bin,
            Box::new(|z, y| sigmoid_xent_forward(z, y).unwrap().1),
            Box::new(move |z, y| {
                let probs = sigmoid_xent_forward(z, y).unwrap().0;
                wgfit::ops::softmax::softmax_xent_backward(&probs, y, elem).unwrap()
            }),
        ),
        (
            "softmax_xent",
            logits,
            y_hot,
            Box::new(|z, y| wgfit::ops::softmax::softmax_xent_forward(z, y).unwrap().1),
            Box::new(move |z, y| {
                let probs = wgfit::ops::softmax::softmax_xent_forward(z, y).unwrap().0;
                wgfit::ops::softmax::softmax_xent_backward(&probs, y, 1.0 / r as f32).unwrap()
            }),
        ),
    ];
    for (name, input, target, fwd, bwd) in cases {
        let y = Tensor::from_vec(&device, [r, c], target).unwrap();
        let at = |v: &[f32]| Tensor::from_vec(&device, [r, c], v.to_vec()).unwrap();
        let grad = bwd(&at(&input), &y).to_vec_blocking().unwrap();
        let h = 1e-3f32;
        for i in 0..input.len() {
            let (mut up, mut down) = (input.clone(), input.clone());
            up[i] += h;
            down[i] -= h;
            let fd = ((mean_of(&fwd(&at(&up), &y)) - mean_of(&fwd(&at(&down), &y)))
                / f64::from(2.0 * h)) as f32;
            assert!(
                (fd - grad[i]).abs() <= 1e-2 * grad[i].abs().max(fd.abs()) + 1e-4,
                "{name}[{i}]: gradient {} but finite differences give {fd}",
                grad[i]
            );
        }
    }
}
