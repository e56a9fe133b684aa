//! The vec4 matmul's plans that a software adapter never picks, forced on it
//! (`matmul_bias_act_forced`): every tile (the 64x32 and 32x64 ones exist for hardware GPUs)
//! and K split into ranges summed in a fixed order (split-K, which hardware GPUs run when an
//! output has too few tiles to fill them), against the CPU twin on fresh random inputs of
//! awkward sizes, outputs and the split's scratch poisoned with NaN, with and without folded
//! dispatches. Run with `WGFIT_REQUIRE_GPU=1` so a missing adapter fails.

mod common;

use common::{Tol, cross_check, gpu, random_input, rng, uniform};
use wgfit::ops::matmul::{Transpose, matmul_bias_act_forced, vec4_tiles};
use wgfit::{Activation, Device, Tensor};

const TRANSPOSES: [Transpose; 4] = [Transpose::None, Transpose::A, Transpose::B, Transpose::Both];

fn shapes(t: Transpose, (m, n, k): (usize, usize, usize)) -> (Vec<usize>, Vec<usize>) {
    let a = if matches!(t, Transpose::A | Transpose::Both) {
        vec![k, m]
    } else {
        vec![m, k]
    };
    let b = if matches!(t, Transpose::B | Transpose::Both) {
        vec![n, k]
    } else {
        vec![k, n]
    };
    (a, b)
}

/// (M, N, K, splits): 1, primes, 1 x K and M x 1, multiples of 4 (the vec4 loads) and not, K
/// of one step and of many (past one tile many times), more splits than K has steps, splits
/// that do not divide K's steps.
const CASES: [(usize, usize, usize, u32); 9] = [
    (1, 1, 1, 3),
    (1, 37, 300, 4),
    (67, 1, 131, 2),
    (13, 17, 16, 5),
    (31, 37, 1000, 7),
    (64, 64, 644, 3),
    (129, 68, 257, 64),
    (4, 8, 4099, 11),
    (72, 40, 96, 1),
];

#[test]
fn every_tile_and_split_matches_cpu_for_every_transpose_and_awkward_shapes() {
    let mut rng = rng("matmul_forced_plans");
    let tiles = vec4_tiles().len();
    for (i, &(m, n, k, splits)) in CASES.iter().enumerate() {
        for t in TRANSPOSES {
            // Each case on two tiles in turn, so all of them meet every transpose.
            for tile in [i % tiles, (i + 2) % tiles] {
                let (a, b) = shapes(t, (m, n, k));
                let inputs = [
                    random_input(&mut rng, &a),
                    random_input(&mut rng, &b),
                    (vec![n], uniform(&mut rng, n, -2.0, 2.0)),
                ];
                let name = format!("tile {tile} split {splits} {t:?} {m} x {n} x {k}");
                cross_check(&name, &inputs, Tol::Norm(1e-5), |x| {
                    let plan = (tile, splits);
                    Ok(vec![
                        matmul_bias_act_forced(
                            &x[0],
                            &x[1],
                            t,
                            Some(&x[2]),
                            Activation::Tanh,
                            plan,
                        )?,
                        matmul_bias_act_forced(&x[0], &x[1], t, None, Activation::Linear, plan)?,
                    ])
                });
            }
        }
    }
}

#[test]
fn split_k_matches_cpu_batched_and_with_a_shared_b() {
    let mut rng = rng("matmul_forced_batched");
    for (shared, batch) in [(false, 3), (true, 4)] {
        let (m, n, k) = (19, 36, 203);
        let a = random_input(&mut rng, &[batch, m, k]);
        let b = if shared {
            random_input(&mut rng, &[k, n])
        } else {
            random_input(&mut rng, &[batch, k, n])
        };
        let bias = (vec![n], uniform(&mut rng, n, -1.0, 1.0));
        for tile in 0..vec4_tiles().len() {
            let name = format!("tile {tile} split 5 batch {batch} shared b {shared}");
            cross_check(
                &name,
                &[a.clone(), b.clone(), bias.clone()],
                Tol::Norm(1e-5),
                |x| {
                    let out = matmul_bias_act_forced(
                        &x[0],
                        &x[1],
                        Transpose::None,
                        Some(&x[2]),
                        Activation::Relu,
                        (tile, 5),
                    )?;
                    Ok(vec![out])
                },
            );
        }
    }
}

/// K past one dispatch on a software adapter (its loop budget: about 43 000 of K per vec4
/// dispatch), split in 2: each split takes two dispatches, the second adding to the first's
/// partial, and the sum adds the bias and the activation once.
#[test]
fn split_k_past_one_dispatch_matches_cpu() {
    let mut rng = rng("matmul_forced_long");
    let (m, n, k) = (5, 7, 100_003);
    for t in [Transpose::None, Transpose::Both] {
        let (a, b) = shapes(t, (m, n, k));
        // Eighths sum exactly in f32 over this K, so any order gives the CPU's sum.
        let eighths = |rng: &mut rand::rngs::StdRng, len: usize| -> Vec<f32> {
            uniform(rng, len, -4.0, 4.0)
                .iter()
                .map(|v| v.round() / 8.0)
                .collect()
        };
        let inputs = [
            (a.clone(), eighths(&mut rng, m * k)),
            (b.clone(), eighths(&mut rng, k * n)),
            (vec![n], eighths(&mut rng, n)),
        ];
        cross_check(
            &format!("split 2 {t:?} K {k}"),
            &inputs,
            Tol::Norm(1e-6),
            |x| {
                let out =
                    matmul_bias_act_forced(&x[0], &x[1], t, Some(&x[2]), Activation::Relu, (1, 2))?;
                Ok(vec![out])
            },
        );
    }
}

/// Split-K adds its partials in a fixed order: two runs give the same bits.
#[test]
fn split_k_is_deterministic() {
    let Some(device) = gpu() else { return };
    let mut rng = rng("matmul_split_deterministic");
    let (m, n, k) = (40, 24, 2000);
    let a = Tensor::from_vec(&device, [m, k], uniform(&mut rng, m * k, -1.0, 1.0)).unwrap();
    let b = Tensor::from_vec(&device, [k, n], uniform(&mut rng, k * n, -1.0, 1.0)).unwrap();
    let run = || {
        matmul_bias_act_forced(&a, &b, Transpose::None, None, Activation::Linear, (2, 9))
            .and_then(|c| c.to_vec_blocking())
            .unwrap()
    };
    let first = run();
    assert!(first.iter().all(|v| v.is_finite()));
    assert_eq!(first, run());
}

#[test]
fn a_tile_past_the_list_is_a_config_error() {
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    for device in devices {
        let a = Tensor::from_vec(&device, [2, 3], vec![1.0; 6]).unwrap();
        let b = Tensor::from_vec(&device, [3, 4], vec![1.0; 12]).unwrap();
        let err = matmul_bias_act_forced(&a, &b, Transpose::None, None, Activation::Linear, (9, 1));
        assert!(
            matches!(err, Err(wgfit::Error::Config(_))),
            "{}",
            device.info()
        );
    }
}
