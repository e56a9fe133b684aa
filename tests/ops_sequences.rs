//! Sequence kernels against their CPU twins: Masking forward/backward and the deterministic
//! embedding gradient (the lookup is the row gather, tested in ops_training.rs).

mod common;

use common::{Tol, cross_check, gpu, gpu_split, rng, uniform};
use rand::Rng;
use wgfit::ops::embedding::embedding_backward;
use wgfit::ops::masking::{masking_backward, masking_forward};
use wgfit::{Device, Tensor};

#[test]
fn masking_matches_cpu_and_masks_exactly_the_all_equal_steps() {
    let mut rng = rng("masking");
    for &(b, t, f) in &[(1, 1, 1), (2, 7, 3), (13, 5, 10), (3, 300, 2)] {
        // Integer-valued features so that whole steps of the mask value occur.
        let x: Vec<f32> = (0..b * t * f)
            .map(|_| rng.random_range(0..3) as f32 - 1.0)
            .collect();
        let dy = uniform(&mut rng, b * t * f, -1.0, 1.0);
        let name = format!("masking [{b}, {t}, {f}]");
        cross_check(
            &name,
            &[(vec![b, t, f], x.clone()), (vec![b, t, f], dy)],
            Tol::Rel(0.0),
            |x| {
                let (out, mask) = masking_forward(&x[0], 0.0)?;
                let dx = masking_backward(&x[1], &mask)?;
                Ok(vec![out, mask, dx])
            },
        );
        let (_, mask) = masking_forward(
            &Tensor::from_vec(&Device::cpu(), [b, t, f], x.clone()).unwrap(),
            0.0,
        )
        .unwrap();
        let mask = mask.to_vec_blocking().unwrap();
        for (step, m) in x.chunks(f).zip(&mask) {
            assert_eq!(
                *m == 0.0,
                step.iter().all(|&v| v == 0.0),
                "{name}: step {step:?} got mask {m}"
            );
        }
    }
}

#[test]
fn masking_steps_without_features_are_all_masked_on_every_device() {
    // Keras: any(x != mask_value) over zero features is false, so every step is masked.
    let (b, t) = (2, 3);
    cross_check(
        "masking [2, 3, 0]",
        &[(vec![b, t, 0], vec![]), (vec![b, t, 0], vec![])],
        Tol::Rel(0.0),
        |x| {
            let (out, mask) = masking_forward(&x[0], 0.0)?;
            assert_eq!((out.dims(), mask.dims()), (&[b, t, 0][..], &[b, t][..]));
            let dx = masking_backward(&x[1], &mask)?;
            assert_eq!(dx.dims(), &[b, t, 0]);
            Ok(vec![out, mask, dx])
        },
    );
    let x = Tensor::from_vec(&Device::cpu(), [b, t, 0], vec![]).unwrap();
    let (_, mask) = masking_forward(&x, 0.0).unwrap();
    assert_eq!(mask.to_vec_blocking().unwrap(), vec![0.0; b * t]);
}

#[test]
fn embedding_gradients_match_cpu_and_sum_repeated_tokens_in_order() {
    let mut rng = rng("embedding");
    for &(vocab, dim, positions) in &[(1, 1, 1), (10, 32, 8), (7, 3, 300), (1000, 17, 64)] {
        let ids: Vec<u32> = (0..positions)
            .map(|_| rng.random_range(0..vocab as u32))
            .collect();
        let dy = uniform(&mut rng, positions * dim, -1.0, 1.0);
        let run = |device: &Device| {
            let g = Tensor::from_vec(device, [positions, dim], dy.clone()).unwrap();
            embedding_backward(&ids, vocab, &g)
                .unwrap()
                .to_vec_blocking()
                .unwrap()
        };
        let want = run(&Device::cpu());
        for device in [gpu(), gpu_split()].into_iter().flatten() {
            // Same sums in the same order: bit-identical.
            assert_eq!(
                run(&device),
                want,
                "embedding V={vocab} D={dim} P={positions} on {}",
                device.info()
            );
        }
        // Against a direct sum per token.
        for v in 0..vocab {
            for d in 0..dim {
                let direct: f32 = ids
                    .iter()
                    .enumerate()
                    .filter(|&(_, &id)| id as usize == v)
                    .map(|(p, _)| dy[p * dim + d])
                    .sum();
                assert!((want[v * dim + d] - direct).abs() <= 1e-6 * direct.abs().max(1.0));
            }
        }
    }
}

#[test]
fn an_embedding_id_past_the_vocabulary_is_a_data_error_naming_its_position() {
    let dy = Tensor::zeros(&Device::cpu(), [3, 2]).unwrap();
    match embedding_backward(&[1, 0, 5], 4, &dy) {
        Err(wgfit::Error::Data(m)) => assert!(m.contains("token id 5 at position 2"), "{m}"),
        other => panic!("expected a data error, got {other:?}"),
    }
}
