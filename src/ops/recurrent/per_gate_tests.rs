//! The per-gate products (`per_gate.rs`) against plain loops on both devices.

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::per_gate::{dropped_weight_grad, gate_input_grad, gate_projection};
use crate::device::Device;
use crate::tensor::Tensor;

fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("WGFIT_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("WGFIT_REQUIRE_GPU=1 but no GPU adapter was found: {e}")
        }
        Err(e) => {
            eprintln!("!!!!! NO GPU ADAPTER ({e}): THE PER-GATE GPU PATHS ARE NOT TESTED !!!!!");
            None
        }
    }
}

fn close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * scale, "{what}[{i}]: {g} vs {w}");
    }
}

/// Both products against plain loops, on the CPU and (from the same inputs) the GPU, for
/// odd sizes (F and U apart), one gate and several, a subset of rows kept and all of them.
#[test]
fn per_gate_products_equal_plain_loops_on_both_devices() {
    let mut rng = StdRng::seed_from_u64(17);
    let devices: Vec<Device> = [Device::cpu()].into_iter().chain(gpu()).collect();
    for (b, t, f, u, g) in [(1, 1, 1, 1, 1), (3, 5, 7, 13, 3), (2, 37, 3, 9, 4)] {
        let mut v =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (x, dz_all, kernel, bias) = (v(b * t * f), v(b * t * g * u), v(f * g * u), v(g * u));
        let masks: Vec<f32> = v(g * b * f)
            .iter()
            .map(|&r| if r > 0.0 { 1.5 } else { 0.0 })
            .collect();
        let m = |gi: usize, row: usize, j: usize| masks[(gi * b + row / t) * f + j];
        let every_other: Vec<u32> = (0..(b * t) as u32).filter(|i| i % 2 == 0).collect();
        for kept in [None, Some(every_other)] {
            let rows: Vec<usize> = match &kept {
                Some(k) => k.iter().map(|&i| i as usize).collect(),
                None => (0..b * t).collect(),
            };
            let n = rows.len();
            for (g0, gates) in [(0, g), (g - 1, 1)] {
                let dz = &dz_all[..n * gates * u];
                // block i, [j, k] = Σ_rows x[row, j] m[g0 + i, row / t, j] dz[row, i·U + k]
                let mut want = vec![0.0f32; f * gates * u];
                for i in 0..gates {
                    for (ri, &row) in rows.iter().enumerate() {
                        for j in 0..f {
                            let xv = x[row * f + j] * m(g0 + i, row, j);
                            for k in 0..u {
                                let d = dz[ri * gates * u + i * u + k];
                                want[j * gates * u + i * u + k] += xv * d;
                            }
                        }
                    }
                }
                for device in &devices {
                    let ten = |d: &[f32], dims: &[usize]| {
                        Tensor::from_vec(device, dims.to_vec(), d.to_vec()).unwrap()
                    };
                    let kept_t = kept
                        .as_ref()
                        .map(|k| Tensor::from_u32(device, [k.len()], k.clone()).unwrap());
                    let got = dropped_weight_grad(
                        &ten(&x, &[b, t, f]),
                        &ten(&masks, &[g, b, f]),
                        (g0, gates),
                        &ten(dz, &[n, gates * u]),
                        kept_t.as_ref(),
                    )
                    .unwrap();
                    assert_eq!(got.dims(), [f, gates * u]);
                    let what = format!("weight grad {b}x{t}x{f}x{u} gates {g0}+{gates}");
                    let on = format!("{what} on {}", device.info());
                    close(&on, &got.to_vec_blocking().unwrap(), &want);
                }
            }
        }
        let rows = b * t;
        let mut want = vec![0.0f32; rows * g * u];
        for gi in 0..g {
            for r in 0..rows {
                for k in 0..u {
                    let acc: f32 = (0..f)
                        .map(|j| x[r * f + j] * m(gi, r, j) * kernel[j * g * u + gi * u + k])
                        .sum();
                    want[r * g * u + gi * u + k] = acc + bias[gi * u + k];
                }
            }
        }
        for device in &devices {
            let ten = |d: &[f32], dims: &[usize]| {
                Tensor::from_vec(device, dims.to_vec(), d.to_vec()).unwrap()
            };
            let got = gate_projection(
                &ten(&x, &[b, t, f]),
                &ten(&masks, &[g, b, f]),
                &ten(&kernel, &[f, g * u]),
                &ten(&bias, &[g * u]),
            )
            .unwrap();
            assert_eq!(got.dims(), [rows, g * u]);
            let on = format!("projection {b}x{t}x{f}x{u} on {}", device.info());
            close(&on, &got.to_vec_blocking().unwrap(), &want);
        }
        // dx[r, j] = Σ_g Σ_k dz[r, g·U + k] kernel[j, g·U + k] m[g, r / t, j]
        let mut want = vec![0.0f32; rows * f];
        for r in 0..rows {
            for j in 0..f {
                for gi in 0..g {
                    let dot: f32 = (0..u)
                        .map(|k| dz_all[r * g * u + gi * u + k] * kernel[j * g * u + gi * u + k])
                        .sum();
                    want[r * f + j] += dot * m(gi, r, j);
                }
            }
        }
        for device in &devices {
            let ten = |d: &[f32], dims: &[usize]| {
                Tensor::from_vec(device, dims.to_vec(), d.to_vec()).unwrap()
            };
            let got = gate_input_grad(
                &ten(&dz_all, &[rows, g * u]),
                &ten(&kernel, &[f, g * u]),
                &ten(&masks, &[g, b, f]),
            )
            .unwrap();
            assert_eq!(got.dims(), [b, t, f]);
            let on = format!("input grad {b}x{t}x{f}x{u} on {}", device.info());
            close(&on, &got.to_vec_blocking().unwrap(), &want);
        }
    }
}
