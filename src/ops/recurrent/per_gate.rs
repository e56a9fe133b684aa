//! A recurrent layer's per-gate products under recurrent dropout (Keras's implementation 1:
//! each gate sees its own dropped copy of x and of h_prev), G gates of U units:
//! - projection: xs G × `[N, F]` (x ⊙ m_g), kernel `[F, G·U]`, bias `[G·U]` -> `[N, G·U]`,
//!   column block g = xs_g · kernel_g + bias_g;
//! - recurrent kernel gradient: hprev `[B, T, U]`, rdrop `[G, B, U]`, dz `[N, n·U]` (the kept
//!   rows' gradients of gates g0..g0 + n), kept `[N]` (rows of B·T; all B·T rows without it)
//!   -> `[U, n·U]`, block i = (hprev ⊙ r_g)ᵀ dz_i over the kept rows (g = g0 + i): h_prev as
//!   gate g's recurrent product saw it.
//!
//! On the CPU each gate's product is written straight into its block of one output, the gates
//! side by side on the cores (no per-gate outputs, column slices or concatenation: those
//! copies, and products too small to split, cost W4d as much as its GEMMs). On a GPU the same
//! products from the dropout, gather, slice, matmul and concat kernels.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul, s};

use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::cpu_gemm::per_column_block;
use crate::ops::dropout::dropout_apply;
use crate::ops::gather::gather_rows;
use crate::ops::matmul::{Transpose, matmul, matmul_bias_act};
use crate::ops::merge::{concat, slice};
use crate::ops::{f32_device, host, shape_error};
use crate::tensor::Tensor;

/// The projection of the module's doc: `[N, G·U]`.
pub(crate) fn gate_projection(xs: &[Tensor], kernel: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let mut all: Vec<&Tensor> = xs.iter().collect();
    all.extend([kernel, bias]);
    let device = f32_device("gate_projection", &all)?;
    let (g, &[f, gu]) = (xs.len(), kernel.dims()) else {
        return Err(shape_error(
            "gate_projection",
            &[None, None],
            kernel.dims(),
            "kernel [F, G·U]",
        ));
    };
    let rows = xs.first().map_or(0, |x| x.dims()[0]);
    if g == 0 || gu % g != 0 || bias.dims() != [gu] || xs.iter().any(|x| x.dims() != [rows, f]) {
        return Err(Error::Config(format!(
            "gate_projection: {g} inputs {:?} for kernel {:?} and bias {:?}",
            xs.iter().map(|x| x.dims().to_vec()).collect::<Vec<_>>(),
            kernel.dims(),
            bias.dims()
        )));
    }
    let u = gu / g;
    if !matches!(device, Device::Cpu) {
        let parts = xs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let (k, b) = (slice(kernel, 1, i * u, u)?, slice(bias, 0, i * u, u)?);
                matmul_bias_act(x, &k, Transpose::None, Some(&b), Activation::Linear)
            })
            .collect::<Result<Vec<_>>>()?;
        return concat(&parts.iter().collect::<Vec<_>>(), 1);
    }
    let hosts: Vec<_> = xs.iter().map(host).collect();
    let (k, b) = (host(kernel), host(bias));
    let (k, b) = (k.f32(), b.f32());
    let kernel = ArrayView2::from_shape((f, gu), k).expect("checked above");
    let mut out = crate::device::cpu_pool::overwritten(rows * gu);
    let mut view = ArrayViewMut2::from_shape((rows, gu), &mut out[..]).expect("sized");
    per_column_block(&mut view, u, |i, block| {
        let x = ArrayView2::from_shape((rows, f), hosts[i].f32()).expect("checked above");
        general_mat_mul(
            1.0,
            &x,
            &kernel.slice(s![.., i * u..(i + 1) * u]),
            0.0,
            block,
        );
        let bias = &b[i * u..(i + 1) * u];
        for mut row in block.rows_mut() {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    });
    Tensor::from_vec(&device, [rows, gu], out)
}

/// The recurrent kernel gradient of the module's doc: `[U, n·U]` for gates `g0..g0 + n`.
pub(crate) fn dropped_weight_grad(
    hprev: &Tensor,
    rdrop: &Tensor,
    (g0, n): (usize, usize),
    dz: &Tensor,
    kept: Option<&Tensor>,
) -> Result<Tensor> {
    let device = f32_device("dropped_weight_grad", &[hprev, rdrop, dz])?;
    let (&[b, t, u], &[g, rb, ru]) = (hprev.dims(), rdrop.dims()) else {
        return Err(shape_error(
            "dropped_weight_grad",
            &[None, None, None],
            hprev.dims(),
            "hprev must be [B, T, U] and rdrop [G, B, U]",
        ));
    };
    let rows = kept.map_or(b * t, |k| k.numel());
    if (rb, ru) != (b, u) || g0 + n > g || dz.dims() != [rows, n * u] {
        return Err(Error::Config(format!(
            "dropped_weight_grad: hprev {:?}, rdrop {:?}, gates {g0}..{}, dz {:?} for {rows} rows",
            hprev.dims(),
            rdrop.dims(),
            g0 + n,
            dz.dims()
        )));
    }
    if !matches!(device, Device::Cpu) {
        return composed((hprev, rdrop, dz, kept), (g0, n), (b, u));
    }
    let idx: Vec<usize> = match kept {
        Some(k) => {
            let k = k
                .cpu_u32()
                .ok_or_else(|| Error::Data("kept rows must be u32".into()))?;
            k.iter().map(|&i| i as usize).collect()
        }
        None => (0..b * t).collect(),
    };
    if let Some(&bad) = idx.iter().find(|&&i| i >= b * t) {
        return Err(Error::Data(format!(
            "dropped_weight_grad: kept row {bad} is out of range for {} rows",
            b * t
        )));
    }
    let (h, r, d) = (host(hprev), host(rdrop), host(dz));
    let (h, r, d) = (h.f32(), r.f32(), d.f32());
    let dz = ArrayView2::from_shape((rows, n * u), d).expect("checked above");
    let mut out = crate::device::cpu_pool::overwritten(u * n * u);
    let mut view = ArrayViewMut2::from_shape((u, n * u), &mut out[..]).expect("sized");
    per_column_block(&mut view, u, |i, block| {
        // gate g's dropped h_prev on the kept rows, then its product into block i
        let gate = &r[(g0 + i) * b * u..(g0 + i + 1) * b * u];
        let mut dropped = vec![0.0f32; rows * u];
        for (dst, &row) in dropped.chunks_exact_mut(u).zip(&idx) {
            let mask = &gate[(row / t) * u..(row / t + 1) * u];
            for ((o, &hv), &m) in dst.iter_mut().zip(&h[row * u..(row + 1) * u]).zip(mask) {
                *o = hv * m;
            }
        }
        let dropped = ArrayView2::from_shape((rows, u), &dropped[..]).expect("sized");
        let dz_i = dz.slice(s![.., i * u..(i + 1) * u]);
        general_mat_mul(1.0, &dropped.t(), &dz_i, 0.0, block);
    });
    Tensor::from_vec(&device, [u, n * u], out)
}

/// The GPU's: per gate, hprev ⊙ r_g (a copy), its kept rows, times its columns of dz.
fn composed(
    (hprev, rdrop, dz, kept): (&Tensor, &Tensor, &Tensor, Option<&Tensor>),
    (g0, n): (usize, usize),
    (b, u): (usize, usize),
) -> Result<Tensor> {
    let rows_of = |t: Tensor| -> Result<Tensor> {
        let t = t.reshape([t.numel() / u, u])?;
        kept.map_or(Ok(t.clone()), |k| gather_rows(&t, k))
    };
    let parts = (0..n)
        .map(|i| {
            let mask = slice(rdrop, 0, g0 + i, 1)?.reshape([b, u])?;
            let dropped = rows_of(dropout_apply(hprev, &mask)?)?;
            let dz_i = if n == 1 {
                dz.clone()
            } else {
                slice(dz, 1, i * u, u)?
            };
            matmul(&dropped, &dz_i, Transpose::A)
        })
        .collect::<Result<Vec<_>>>()?;
    match &parts[..] {
        [one] => Ok(one.clone()),
        _ => concat(&parts.iter().collect::<Vec<_>>(), 1),
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};

    use super::{dropped_weight_grad, gate_projection};
    use crate::device::Device;
    use crate::tensor::Tensor;

    fn gpu() -> Option<Device> {
        match Device::gpu() {
            Ok(d) => Some(d),
            Err(e) if std::env::var("WGFIT_REQUIRE_GPU").as_deref() == Ok("1") => {
                panic!("WGFIT_REQUIRE_GPU=1 but no GPU adapter was found: {e}")
            }
            Err(e) => {
                eprintln!(
                    "!!!!! NO GPU ADAPTER ({e}): THE PER-GATE GPU PATHS ARE NOT TESTED !!!!!"
                );
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
    /// odd sizes, one gate and several, a subset of rows kept and all of them.
    #[test]
    fn per_gate_products_equal_plain_loops_on_both_devices() {
        let mut rng = StdRng::seed_from_u64(17);
        let devices: Vec<Device> = [Device::cpu()].into_iter().chain(gpu()).collect();
        for (b, t, f, u, g) in [(1, 1, 1, 1, 1), (3, 5, 7, 13, 3), (2, 37, 3, 9, 4)] {
            let mut v =
                |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-1.0..1.0)).collect() };
            let (hprev, dz_all, x, kernel, bias) = (
                v(b * t * u),
                v(b * t * g * u),
                v(g * b * t * f),
                v(f * g * u),
                v(g * u),
            );
            let rdrop: Vec<f32> = v(g * b * u)
                .iter()
                .map(|&r| if r > 0.0 { 1.5 } else { 0.0 })
                .collect();
            let every_other: Vec<u32> = (0..(b * t) as u32).filter(|i| i % 2 == 0).collect();
            for kept in [None, Some(every_other)] {
                let rows: Vec<usize> = kept.as_ref().map_or((0..b * t).collect(), |k| {
                    k.iter().map(|&i| i as usize).collect()
                });
                let n = rows.len();
                for (g0, gates) in [(0, g), (g - 1, 1)] {
                    let dz = &dz_all[..n * gates * u];
                    // block i, [j, k] = Σ_rows hprev[row, j] r[g0 + i, row / t, j] dz[row, i·U + k]
                    let mut want = vec![0.0f32; u * gates * u];
                    for i in 0..gates {
                        for (ri, &row) in rows.iter().enumerate() {
                            for j in 0..u {
                                let hv =
                                    hprev[row * u + j] * rdrop[((g0 + i) * b + row / t) * u + j];
                                for k in 0..u {
                                    want[j * gates * u + i * u + k] +=
                                        hv * dz[ri * gates * u + i * u + k];
                                }
                            }
                        }
                    }
                    for device in &devices {
                        let t3 = |d: &[f32], dims: &[usize]| {
                            Tensor::from_vec(device, dims.to_vec(), d.to_vec()).unwrap()
                        };
                        let kept_t = kept
                            .as_ref()
                            .map(|k| Tensor::from_u32(device, [k.len()], k.clone()).unwrap());
                        let got = dropped_weight_grad(
                            &t3(&hprev, &[b, t, u]),
                            &t3(&rdrop, &[g, b, u]),
                            (g0, gates),
                            &t3(dz, &[n, gates * u]),
                            kept_t.as_ref(),
                        )
                        .unwrap();
                        assert_eq!(got.dims(), [u, gates * u]);
                        close(
                            &format!(
                                "weight grad {b}x{t}x{u} gates {g0}+{gates} on {}",
                                device.info()
                            ),
                            &got.to_vec_blocking().unwrap(),
                            &want,
                        );
                    }
                }
            }
            let rows = b * t;
            let mut want = vec![0.0f32; rows * g * u];
            for gi in 0..g {
                for r in 0..rows {
                    for k in 0..u {
                        let acc: f32 = (0..f)
                            .map(|j| x[(gi * rows + r) * f + j] * kernel[j * g * u + gi * u + k])
                            .sum();
                        want[r * g * u + gi * u + k] = acc + bias[gi * u + k];
                    }
                }
            }
            for device in &devices {
                let xs: Vec<Tensor> = (0..g)
                    .map(|gi| {
                        Tensor::from_vec(
                            device,
                            [rows, f],
                            x[gi * rows * f..(gi + 1) * rows * f].to_vec(),
                        )
                        .unwrap()
                    })
                    .collect();
                let k = Tensor::from_vec(device, [f, g * u], kernel.clone()).unwrap();
                let bt = Tensor::from_vec(device, [g * u], bias.clone()).unwrap();
                let got = gate_projection(&xs, &k, &bt).unwrap();
                assert_eq!(got.dims(), [rows, g * u]);
                close(
                    &format!("projection {b}x{t}x{f}x{u} on {}", device.info()),
                    &got.to_vec_blocking().unwrap(),
                    &want,
                );
            }
        }
    }
}
