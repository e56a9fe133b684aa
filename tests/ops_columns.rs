//! Column sums (`reduce::sum(x, 0)` of a `[rows, cols]` x: bias gradients, and any axis with
//! more than one element after it) through the tiled kernel `shaders/reduce_columns.wgsl`,
//! against the CPU twin on awkward sizes: rows 1, primes, one chunk (256) and one row past it,
//! a bias gradient's 6 400; cols 1 (the per-output kernel), primes, one tile (64) and past it;
//! with outputs poisoned, and on the 2-d grid device (3 workgroups per dimension), so the
//! partial-sum pass runs past one dispatch dimension. Both sides add in the same fixed order,
//! so they agree to rounding of the division only.

mod common;

use common::{Tol, cross_check, random_input, rng};
use wgfit::ops::reduce::{mean, sum};

#[test]
fn column_sums_and_means_match_cpu_for_awkward_shapes() {
    let mut rng = rng("reduce_columns");
    for rows in [1, 2, 7, 256, 257, 1031, 6400] {
        for cols in [1, 2, 3, 64, 131] {
            if rows * cols > 300_000 {
                continue;
            }
            let x = random_input(&mut rng, &[rows, cols]);
            let name = format!("column sum [{rows}, {cols}]");
            cross_check(&name, std::slice::from_ref(&x), Tol::Rel(1e-5), |t| {
                Ok(vec![sum(&t[0], 0)?, mean(&t[0], 0)?])
            });
        }
    }
    // a bias gradient of an LSTM's gates, [B·T, 4U]
    let x = random_input(&mut rng, &[6400, 512]);
    cross_check("column sum [6400, 512]", &[x], Tol::Rel(1e-5), |t| {
        Ok(vec![sum(&t[0], 0)?])
    });
}

#[test]
fn sums_over_a_middle_axis_match_cpu() {
    let mut rng = rng("reduce_middle");
    for shape in [[3, 257, 5], [2, 1031, 67], [5, 1, 2], [1, 300, 2]] {
        let x = random_input(&mut rng, &shape);
        let name = format!("sum {shape:?} axis 1");
        cross_check(&name, std::slice::from_ref(&x), Tol::Rel(1e-5), |t| {
            Ok(vec![sum(&t[0], 1)?, mean(&t[0], 1)?])
        });
    }
}

/// Not a check: times column sums on the GPU and the CPU (median of 15 after a warm-up, each
/// op then a wait for the device), for BENCHMARKS.md.
///
///     cargo test --release --test ops_columns -- --ignored --nocapture
#[test]
#[ignore]
fn time_column_sums() {
    use wgfit::{Device, Tensor};
    let devices: Vec<Device> = [common::gpu(), Some(Device::cpu())]
        .into_iter()
        .flatten()
        .collect();
    for device in devices {
        for (rows, cols) in [(6400, 512), (128, 128), (128, 10)] {
            let values: Vec<f32> = (0..rows * cols).map(|i| (i % 17) as f32 / 17.0).collect();
            let x = Tensor::from_vec(&device, [rows, cols], values).unwrap();
            let mut times = Vec::new();
            for i in 0..16 {
                let start = std::time::Instant::now();
                let y = sum(&x, 0).unwrap();
                device.synchronize_blocking().unwrap();
                if i > 0 {
                    times.push(start.elapsed().as_secs_f64() * 1e6);
                }
                drop(y);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "column sum [{rows}, {cols}] on {}: median {:.0} µs (min {:.0})",
                device.info(),
                times[times.len() / 2],
                times[0]
            );
        }
    }
}
