//! The dropout op family (`shaders/dropout.wgsl`) against its CPU twin, and the statistics of
//! its masks: the GPU's masks equal the CPU's bit for bit (sizes 1, primes, past one
//! workgroup and past one dispatch, outputs poisoned with NaN, dispatches split into 2-d
//! grids); the kept fraction is 1 - rate within 5 binomial standard deviations; neighbours
//! and successive calls are independent.

mod common;

use common::{Tol, cross_check, random_input, rng, uniform};
use rand::Rng;
use wgfit::ops::dropout::{dropout_apply, dropout_mask};
use wgfit::{Device, Tensor};

fn rates(rng: &mut impl Rng) -> [f32; 5] {
    [0.0, 0.1, 0.5, 0.9, rng.random_range(0.0..1.0)]
}

#[test]
fn masks_match_the_cpu_bit_for_bit_on_awkward_sizes() {
    let mut rng = rng("dropout_mask");
    for shape in [vec![1], vec![7], vec![131], vec![3, 257], vec![5, 13, 97]] {
        for rate in rates(&mut rng) {
            let (seed, counter) = (rng.random::<u64>(), rng.random::<u64>());
            // The mask needs only a device: the input says which.
            cross_check(
                &format!("dropout_mask {shape:?} rate {rate} seed {seed} counter {counter}"),
                &[random_input(&mut rng, &[1])],
                Tol::Rel(0.0),
                |x| {
                    Ok(vec![dropout_mask(
                        x[0].device(),
                        shape.clone(),
                        rate,
                        seed,
                        counter,
                    )?])
                },
            );
        }
    }
}

#[test]
fn a_mask_past_one_dispatch_matches_the_cpu() {
    // 65 535 workgroups of 256 fill one grid dimension; one element more needs a second.
    let n = 65_535 * 256 + 1;
    let mut rng = rng("dropout_mask big");
    let (seed, counter) = (rng.random::<u64>(), rng.random::<u64>());
    cross_check(
        "dropout_mask past one dispatch",
        &[random_input(&mut rng, &[1])],
        Tol::Rel(0.0),
        |x| Ok(vec![dropout_mask(x[0].device(), [n], 0.3, seed, counter)?]),
    );
}

#[test]
fn applying_a_mask_matches_the_cpu_exactly() {
    let mut rng = rng("dropout_apply");
    for (b, t, f) in [
        (1, 1, 1),
        (3, 7, 5),
        (2, 13, 131),
        (5, 257, 3),
        (70_001, 1, 1),
    ] {
        let x = random_input(&mut rng, &[b, t, f]);
        let channels = (vec![b, f], uniform(&mut rng, b * f, 0.0, 2.0));
        cross_check(
            &format!("dropout_apply over time {b}x{t}x{f}"),
            &[x.clone(), channels],
            Tol::Rel(0.0),
            |x| Ok(vec![dropout_apply(&x[0], &x[1])?]),
        );
        let same = (vec![b, t, f], uniform(&mut rng, b * t * f, 0.0, 2.0));
        cross_check(
            &format!("dropout_apply elementwise {b}x{t}x{f}"),
            &[x, same],
            Tol::Rel(0.0),
            |x| Ok(vec![dropout_apply(&x[0], &x[1])?]),
        );
    }
}

#[test]
fn a_mask_of_another_shape_is_refused() {
    let device = Device::cpu();
    let x = Tensor::zeros(&device, [2, 3, 4]).unwrap();
    for bad in [vec![2, 3], vec![3, 4], vec![2, 3, 5], vec![24]] {
        let mask = Tensor::zeros(&device, bad.clone()).unwrap();
        let err = dropout_apply(&x, &mask).unwrap_err();
        assert!(matches!(err, wgfit::Error::Shape(_)), "{bad:?}: {err}");
    }
}

/// Every device under test: the CPU reference and the GPUs.
fn devices() -> Vec<Device> {
    let mut d = vec![Device::cpu()];
    d.extend(common::gpu());
    d
}

fn kept(mask: &[f32]) -> Vec<bool> {
    mask.iter().map(|&m| m != 0.0).collect()
}

/// Asserts `count` of `n` trials with probability `p` each is within 5 standard deviations.
fn assert_binomial(what: &str, count: usize, n: usize, p: f64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 5.0 * sd,
        "{what}: {count} of {n}, expected {mean:.0} ± {:.0} (5 sd)",
        5.0 * sd
    );
}

#[test]
fn the_kept_fraction_is_one_minus_the_rate() {
    let n = 1 << 20;
    let mut rng = rng("dropout fraction");
    for device in devices() {
        for rate in [0.1f32, 0.5, 0.8] {
            let seed = rng.random::<u64>();
            let mask = dropout_mask(&device, [n], rate, seed, 0).unwrap();
            let kept = kept(&mask.to_vec_blocking().unwrap());
            let what = format!("rate {rate} seed {seed} on {}", device.info());
            let p = 1.0 - f64::from(rate);
            assert_binomial(&what, kept.iter().filter(|&&k| k).count(), n, p);
            // Neighbours are independent: both of a pair kept with probability p².
            let pairs = kept.chunks(2).filter(|c| c[0] && c[1]).count();
            assert_binomial(&format!("{what}, pairs"), pairs, n / 2, p * p);
        }
    }
}

#[test]
fn successive_calls_draw_independent_masks() {
    let n = 1 << 18;
    let rate = 0.5;
    let mut rng = rng("dropout calls");
    let seed = rng.random::<u64>();
    for device in devices() {
        let masks: Vec<Vec<bool>> = (0..4)
            .map(|counter| {
                kept(
                    &dropout_mask(&device, [n], rate, seed, counter)
                        .unwrap()
                        .to_vec_blocking()
                        .unwrap(),
                )
            })
            .collect();
        for (a, b) in [(0, 1), (1, 2), (0, 3)] {
            let both = masks[a]
                .iter()
                .zip(&masks[b])
                .filter(|(x, y)| **x && **y)
                .count();
            assert_binomial(
                &format!("calls {a} and {b} on {}", device.info()),
                both,
                n,
                0.25,
            );
        }
        // Another seed, another stream (the same counter).
        let other = kept(
            &dropout_mask(&device, [n], rate, seed ^ 1, 0)
                .unwrap()
                .to_vec_blocking()
                .unwrap(),
        );
        let both = masks[0]
            .iter()
            .zip(&other)
            .filter(|(x, y)| **x && **y)
            .count();
        assert_binomial(
            &format!("seeds {seed} and {} on {}", seed ^ 1, device.info()),
            both,
            n,
            0.25,
        );
    }
}

#[test]
fn kept_elements_are_scaled_by_the_inverse_keep_probability_exactly() {
    for device in devices() {
        for rate in [0.0f32, 0.1, 0.3, 0.5, 0.9] {
            // TensorFlow's dropout scales by 1 / (1 - rate) computed in double, rounded once.
            let scale = (1.0 / (1.0 - f64::from(rate))) as f32;
            let mask = dropout_mask(&device, [4099], rate, 11, 3).unwrap();
            let values = mask.to_vec_blocking().unwrap();
            assert!(
                values.iter().all(|&m| m == 0.0 || m == scale),
                "rate {rate} on {}: values other than 0 and {scale}",
                device.info()
            );
            if rate == 0.0 {
                assert!(values.iter().all(|&m| m == 1.0), "rate 0 keeps everything");
            }
        }
    }
}

#[test]
fn rates_outside_zero_to_one_are_refused() {
    for rate in [-0.5f32, 1.0, 2.0, f32::NAN, f32::INFINITY] {
        let err = dropout_mask(&Device::cpu(), [3], rate, 0, 0).unwrap_err();
        assert!(
            matches!(&err, wgfit::Error::Config(m) if m.contains("[0, 1)")),
            "rate {rate}: {err}"
        );
    }
}
