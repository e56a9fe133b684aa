//! Cross-backend kernel suite: every op runs on the CPU reference and on the GPU (twice: once
//! as is, once with dispatches split into 2-d grids) on fresh random inputs of awkward sizes,
//! with GPU outputs poisoned with NaN beforehand so an unwritten element fails the test.

mod common;

use common::{Input, Tol, cross_check, gpu, gpu_split, random_input, rng, uniform};
use rand::Rng;
use wgfit::ops::adam::{AdamStep, adam_update};
use wgfit::ops::bias_act::{bias_act_backward, bias_act_forward};
use wgfit::ops::elementwise::{BinaryOp, affine, axpy, binary, fill};
use wgfit::ops::masked_reduce::{masked_mean, masked_sum};
use wgfit::ops::matmul::{MatmulKernel, Transpose, matmul_with};
use wgfit::ops::reduce::{mean, sum};
use wgfit::ops::softmax::{softmax, softmax_xent_backward, softmax_xent_forward};
use wgfit::ops::transpose::transpose;
use wgfit::{Activation, Device, Tensor};

#[test]
fn matmul_matches_cpu_for_awkward_shapes_every_transpose_and_both_kernels() {
    let mut rng = rng("matmul");
    // (batch dims, M, N, K): 1, primes, sizes past one 64x64 tile, a batched case.
    let cases: &[(&[usize], usize, usize, usize)] = &[
        (&[], 1, 1, 1),
        (&[], 7, 131, 13),
        (&[], 131, 7, 257),
        (&[], 67, 129, 65),
        (&[], 300, 5, 1),
        (&[3], 33, 17, 70),
        (&[2, 2], 5, 3, 2),
    ];
    for &(batch, m, n, k) in cases {
        for t in [Transpose::None, Transpose::A, Transpose::B, Transpose::Both] {
            let (ta, tb) = (
                matches!(t, Transpose::A | Transpose::Both),
                matches!(t, Transpose::B | Transpose::Both),
            );
            let mut a_shape = batch.to_vec();
            a_shape.extend(if ta { [k, m] } else { [m, k] });
            let mut b_shape = batch.to_vec();
            b_shape.extend(if tb { [n, k] } else { [k, n] });
            let inputs = [
                random_input(&mut rng, &a_shape),
                random_input(&mut rng, &b_shape),
            ];
            for kernel in [MatmulKernel::Tiled, MatmulKernel::Naive] {
                let name = format!("matmul {kernel:?} {t:?} a{a_shape:?} b{b_shape:?}");
                cross_check(&name, &inputs, Tol::Norm(1e-5), |x| {
                    Ok(vec![matmul_with(&x[0], &x[1], t, kernel)?])
                });
            }
        }
    }
}

#[test]
fn matmul_broadcasts_a_2d_right_operand_over_the_batch() {
    let mut rng = rng("matmul_broadcast");
    let inputs = [
        random_input(&mut rng, &[4, 19, 11]),
        random_input(&mut rng, &[11, 37]),
    ];
    cross_check("matmul broadcast", &inputs, Tol::Norm(1e-5), |x| {
        Ok(vec![matmul_with(
            &x[0],
            &x[1],
            Transpose::None,
            MatmulKernel::Tiled,
        )?])
    });
}

#[test]
fn matmul_with_more_workgroups_than_one_dimension_allows() {
    // 70 000 batch entries, one 64x64 tile each: more than the 65 535 workgroups a dispatch
    // dimension may have on any adapter, so the dispatch must be folded into two dimensions.
    let mut rng = rng("matmul_large_dispatch");
    let inputs = [
        random_input(&mut rng, &[70_000, 2, 3]),
        random_input(&mut rng, &[70_000, 3, 2]),
    ];
    cross_check("matmul 70000 batch", &inputs, Tol::Norm(1e-5), |x| {
        Ok(vec![matmul_with(
            &x[0],
            &x[1],
            Transpose::None,
            MatmulKernel::Tiled,
        )?])
    });
}

#[test]
fn bias_act_forward_and_backward_match_cpu_for_every_activation() {
    let mut rng = rng("bias_act");
    for &(rows, cols) in &[(1, 1), (7, 13), (131, 3), (3, 300), (257, 131)] {
        for act in [
            Activation::Linear,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
        ] {
            let x = (vec![rows, cols], uniform(&mut rng, rows * cols, -4.0, 4.0));
            let b = random_input(&mut rng, &[cols]);
            let name = format!("bias_act {act:?} [{rows}, {cols}]");
            cross_check(&name, &[x.clone(), b], Tol::Rel(1e-5), |t| {
                Ok(vec![bias_act_forward(&t[0], Some(&t[1]), act)?])
            });
            cross_check(&format!("{name} no bias"), &[x], Tol::Rel(1e-5), |t| {
                Ok(vec![bias_act_forward(&t[0], None, act)?])
            });
            let dy = random_input(&mut rng, &[rows, cols]);
            let y = (
                vec![rows, cols],
                uniform(&mut rng, rows * cols, -0.99, 0.99),
            );
            cross_check(&format!("{name} backward"), &[dy, y], Tol::Rel(1e-5), |t| {
                Ok(vec![bias_act_backward(&t[0], &t[1], act)?])
            });
        }
    }
}

fn one_hot(rng: &mut rand::rngs::StdRng, rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0.0; rows * cols];
    for r in 0..rows {
        y[r * cols + rng.random_range(0..cols)] = 1.0;
    }
    y
}

#[test]
fn softmax_and_fused_crossentropy_match_cpu() {
    let mut rng = rng("softmax");
    // 70 000 rows of one workgroup each also exceed one dispatch dimension.
    for &(rows, cols) in &[(1, 1), (7, 10), (131, 3), (2, 300), (257, 65), (70_000, 3)] {
        let z = (vec![rows, cols], uniform(&mut rng, rows * cols, -8.0, 8.0));
        let y = (vec![rows, cols], one_hot(&mut rng, rows, cols));
        let name = format!("softmax [{rows}, {cols}]");
        cross_check(&name, std::slice::from_ref(&z), Tol::Rel(1e-5), |t| {
            Ok(vec![softmax(&t[0])?])
        });
        cross_check(
            &format!("{name} xent"),
            &[z, y.clone()],
            Tol::Rel(1e-5),
            |t| {
                let (p, loss) = softmax_xent_forward(&t[0], &t[1])?;
                Ok(vec![p, loss])
            },
        );
        let probs = (vec![rows, cols], uniform(&mut rng, rows * cols, 0.0, 1.0));
        let scale = 1.0 / rows as f32;
        cross_check(
            &format!("{name} xent backward"),
            &[probs, y],
            Tol::Rel(1e-5),
            |t| Ok(vec![softmax_xent_backward(&t[0], &t[1], scale)?]),
        );
    }
}

#[test]
fn sum_and_mean_over_any_axis_match_cpu() {
    let mut rng = rng("reduce");
    for shape in [
        vec![1],
        vec![7, 131, 3],
        vec![300, 2],
        vec![2, 257],
        vec![1, 1, 1],
    ] {
        let x = random_input(&mut rng, &shape);
        for axis in 0..shape.len() {
            let name = format!("reduce {shape:?} axis {axis}");
            cross_check(&name, std::slice::from_ref(&x), Tol::Rel(1e-5), |t| {
                Ok(vec![sum(&t[0], axis)?, mean(&t[0], axis)?])
            });
        }
    }
}

#[test]
fn transpose_matches_cpu_and_refuses_what_is_not_2d() {
    let mut rng = rng("transpose");
    // 1, primes, past a workgroup, an LSTM's recurrent kernel [U, 4U], and past 65 535
    // workgroups in one dispatch (4 097 x 4 096 = 65 537 workgroups of 256)
    for shape in [
        [1, 1],
        [1, 7],
        [131, 3],
        [257, 67],
        [128, 512],
        [4_097, 4_096],
    ] {
        let x = random_input(&mut rng, &shape);
        let name = format!("transpose {shape:?}");
        cross_check(&name, std::slice::from_ref(&x), Tol::Rel(0.0), |t| {
            let out = transpose(&t[0])?;
            assert_eq!(out.dims(), &[shape[1], shape[0]]);
            Ok(vec![out])
        });
    }
    let x3 = Tensor::from_vec(&Device::cpu(), [2, 2, 2], vec![0.0; 8]).unwrap();
    assert!(matches!(transpose(&x3), Err(wgfit::Error::Shape(_))));
}

fn random_mask(rng: &mut rand::rngs::StdRng, batch: usize, steps: usize) -> Vec<f32> {
    let mut mask: Vec<f32> = (0..batch * steps)
        .map(|_| f32::from(u8::from(rng.random_bool(0.7))))
        .collect();
    // Row 0 keeps no step at all: its mean must be 0, not NaN.
    mask[..steps].fill(0.0);
    mask
}

#[test]
fn masked_sum_and_mean_match_cpu_including_fully_masked_rows() {
    let mut rng = rng("masked_reduce");
    for &(b, t, f) in &[(1, 1, 1), (7, 13, 3), (131, 7, 5), (3, 300, 2), (300, 2, 1)] {
        let x = random_input(&mut rng, &[b, t, f]);
        let mask = (vec![b, t], random_mask(&mut rng, b, t));
        let name = format!("masked_reduce [{b}, {t}, {f}]");
        cross_check(&name, &[x, mask.clone()], Tol::Rel(1e-5), |x| {
            Ok(vec![masked_sum(&x[0], &x[1])?, masked_mean(&x[0], &x[1])?])
        });
        let x2 = random_input(&mut rng, &[b, t]);
        cross_check(&format!("{name} 2-d"), &[x2, mask], Tol::Rel(1e-5), |x| {
            Ok(vec![masked_mean(&x[0], &x[1])?])
        });
    }
}

#[test]
fn fully_masked_rows_average_to_zero_on_every_device() {
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    for device in devices {
        let x = Tensor::from_vec(&device, [2, 3, 1], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let mask = Tensor::from_vec(&device, [2, 3], vec![0.0, 0.0, 0.0, 1.0, 0.0, 1.0]).unwrap();
        let m = masked_mean(&x, &mask).unwrap().to_vec_blocking().unwrap();
        assert_eq!(m, vec![0.0, 5.0], "on {}", device.info());
    }
}

#[test]
fn elementwise_ops_match_cpu() {
    let mut rng = rng("elementwise");
    for n in [1, 7, 131, 257, 65_537] {
        let a = random_input(&mut rng, &[n]);
        let b = (vec![n], uniform(&mut rng, n, 0.5, 2.0));
        let name = format!("elementwise [{n}]");
        cross_check(&format!("{name} fill"), &[], Tol::Rel(0.0), |_| {
            unreachable_device_op(n)
        });
        cross_check(
            &format!("{name} affine"),
            std::slice::from_ref(&a),
            Tol::Rel(1e-5),
            |t| Ok(vec![affine(&t[0], -1.5, 0.25)?]),
        );
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::DivNoNan,
            BinaryOp::Max,
            BinaryOp::Min,
            BinaryOp::GreaterEqual,
            BinaryOp::LessEqual,
            BinaryOp::Equal,
        ] {
            cross_check(
                &format!("{name} {op:?}"),
                &[a.clone(), b.clone()],
                Tol::Rel(1e-5),
                |t| Ok(vec![binary(&t[0], &t[1], op)?]),
            );
        }
        cross_check(
            &format!("{name} axpy"),
            &[a.clone(), b.clone()],
            Tol::Rel(1e-5),
            |t| {
                axpy(&t[0], 0.5, &t[1])?;
                Ok(vec![t[0].clone()])
            },
        );
    }
}

/// `fill` takes a device rather than inputs: run it on the device of an empty tensor list by
/// checking both devices directly.
fn unreachable_device_op(n: usize) -> wgfit::Result<Vec<Tensor>> {
    let devices: Vec<Device> = std::iter::once(Device::cpu())
        .chain(gpu())
        .chain(gpu_split())
        .collect();
    for device in devices {
        let t = fill(&device, [n], 2.5)?;
        assert!(
            t.to_vec_blocking()?.iter().all(|&v| v == 2.5),
            "fill on {}",
            device.info()
        );
    }
    Ok(vec![])
}

#[test]
fn elementwise_add_past_the_largest_one_dimensional_dispatch() {
    // 65 535 x 256 + 1 elements need more workgroups than one dimension allows.
    let n = 65_535 * 256 + 1;
    let mut rng = rng("elementwise_large");
    let inputs = [random_input(&mut rng, &[n]), random_input(&mut rng, &[n])];
    cross_check("add 16M", &inputs, Tol::Rel(1e-5), |t| {
        Ok(vec![binary(&t[0], &t[1], BinaryOp::Add)?])
    });
}

#[test]
fn adam_update_matches_cpu_over_several_steps() {
    let mut rng = rng("adam");
    for n in [1, 7, 131, 1000] {
        let w = random_input(&mut rng, &[n]);
        let m = (vec![n], uniform(&mut rng, n, -0.1, 0.1));
        let v = (vec![n], uniform(&mut rng, n, 0.0, 0.01));
        let grads: Vec<Input> = (0..3).map(|_| random_input(&mut rng, &[n])).collect();
        let inputs: Vec<Input> = [w, m, v].into_iter().chain(grads).collect();
        cross_check(&format!("adam [{n}]"), &inputs, Tol::Rel(1e-5), |t| {
            for (step, g) in t[3..].iter().enumerate() {
                adam_update(
                    &t[0],
                    &t[1],
                    &t[2],
                    g,
                    AdamStep::new(0.001, 0.9, 0.999, 1e-7, step as u64 + 1),
                )?;
            }
            Ok(vec![t[0].clone(), t[1].clone(), t[2].clone()])
        });
    }
}

#[test]
fn divide_no_nan_gives_zero_where_the_divisor_is_zero() {
    let devices: Vec<Device> = std::iter::once(Device::cpu()).chain(gpu()).collect();
    for device in devices {
        let a = Tensor::from_vec(&device, [3], vec![1.0, 2.0, 3.0]).unwrap();
        let b = Tensor::from_vec(&device, [3], vec![0.0, 2.0, 0.0]).unwrap();
        let q = binary(&a, &b, BinaryOp::DivNoNan)
            .unwrap()
            .to_vec_blocking()
            .unwrap();
        assert_eq!(q, vec![0.0, 1.0, 0.0], "on {}", device.info());
    }
}

#[test]
fn masked_scale_matches_cpu_and_zeroes_everything_for_an_empty_mask() {
    let mut rng = rng("masked_scale");
    for &(r, c) in &[(1, 1), (7, 3), (131, 5), (300, 2)] {
        let x = random_input(&mut rng, &[r, c]);
        let mask: Vec<f32> = (0..r)
            .map(|_| f32::from(u8::from(rng.random_bool(0.6))))
            .collect();
        let total = mask.iter().sum::<f32>();
        let inputs = [x, (vec![r], mask), (vec![], vec![total])];
        cross_check(
            &format!("masked_scale [{r}, {c}]"),
            &inputs,
            Tol::Rel(1e-5),
            |t| {
                Ok(vec![wgfit::ops::masked_reduce::masked_scale(
                    &t[0], &t[1], &t[2],
                )?])
            },
        );
        let inputs = [
            random_input(&mut rng, &[r, c]),
            (vec![r], vec![0.0; r]),
            (vec![], vec![0.0]),
        ];
        cross_check(
            &format!("masked_scale [{r}, {c}] empty"),
            &inputs,
            Tol::Rel(0.0),
            |t| {
                let out = wgfit::ops::masked_reduce::masked_scale(&t[0], &t[1], &t[2])?;
                assert!(out.to_vec_blocking()?.iter().all(|&v| v == 0.0));
                Ok(vec![out])
            },
        );
    }
}
