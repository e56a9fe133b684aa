//! A recurrent layer's per-gate products under recurrent dropout (Keras's implementation 1:
//! each gate sees its own dropped copy of x and of h_prev), G gates of U units, masks
//! `[G, B, F]` broadcast over the T steps:
//! - projection: x `[B, T, F]`, masks, kernel `[F, G·U]`, bias `[G·U]` -> `[B·T, G·U]`,
//!   column block g = (x ⊙ m_g) · kernel_g + bias_g;
//! - weight gradient: v `[B, T, F]` (x for the kernel's, h_prev for the recurrent kernel's,
//!   F = U), masks, dz `[N, n·U]` (the kept rows' gradients of gates g0..g0 + n), kept `[N]`
//!   (rows of B·T; all B·T rows without it) -> `[F, n·U]`, block i = (v ⊙ m_g)ᵀ dz_i over
//!   the kept rows (g = g0 + i): v as gate g's product saw it;
//! - input gradient: dz `[B·T, G·U]`, kernel, masks -> dx `[B, T, F]` = Σ_g (dz_g · kernel_gᵀ)
//!   ⊙ m_g.
//!
//! On the CPU each gate's product is written straight into its block of one output, the gates
//! side by side on the cores (no per-gate outputs, column slices or concatenation: those
//! copies, and products too small to split, cost W4d as much as its GEMMs). On a GPU the same
//! products from the dropout, gather, slice, matmul and concat kernels.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul, s};

use crate::activation::Activation;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::cpu_gemm::{gemm_then, per_column_block};
use crate::ops::dropout::dropout_apply;
use crate::ops::elementwise::{BinaryOp, binary};
use crate::ops::gather::gather_rows;
use crate::ops::matmul::{Transpose, matmul, matmul_bias_act};
use crate::ops::merge::{concat, slice};
use crate::ops::{f32_device, host, shape_error};
use crate::tensor::Tensor;

/// The projection of the module's doc: `[B·T, G·U]`.
pub(crate) fn gate_projection(
    x: &Tensor,
    masks: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
) -> Result<Tensor> {
    let device = f32_device("gate_projection", &[x, masks, kernel, bias])?;
    let (&[b, t, f], &[g, mb, mf], &[kf, gu]) = (x.dims(), masks.dims(), kernel.dims()) else {
        return Err(shape_error(
            "gate_projection",
            &[None, None, None],
            x.dims(),
            "x [B, T, F], masks [G, B, F], kernel [F, G·U]",
        ));
    };
    if g == 0 || gu % g != 0 || (mb, mf, kf) != (b, f, f) || bias.dims() != [gu] {
        return Err(Error::Config(format!(
            "gate_projection: x {:?}, masks {:?}, kernel {:?}, bias {:?}",
            x.dims(),
            masks.dims(),
            kernel.dims(),
            bias.dims()
        )));
    }
    let (u, rows) = (gu / g, b * t);
    if !matches!(device, Device::Cpu) {
        let parts = (0..g)
            .map(|i| {
                let m = slice(masks, 0, i, 1)?.reshape([b, f])?;
                let xd = dropout_apply(x, &m)?.reshape([rows, f])?;
                let (k, bi) = (slice(kernel, 1, i * u, u)?, slice(bias, 0, i * u, u)?);
                matmul_bias_act(&xd, &k, Transpose::None, Some(&bi), Activation::Linear)
            })
            .collect::<Result<Vec<_>>>()?;
        return concat(&parts.iter().collect::<Vec<_>>(), 1);
    }
    let (xh, mh, k, bh) = (host(x), host(masks), host(kernel), host(bias));
    let (xh, mh, k, bh) = (xh.f32(), mh.f32(), k.f32(), bh.f32());
    let kernel = ArrayView2::from_shape((f, gu), k).expect("checked above");
    let mut out = crate::device::cpu_pool::overwritten(rows * gu);
    let mut view = ArrayViewMut2::from_shape((rows, gu), &mut out[..]).expect("sized");
    per_column_block(&mut view, u, |i, block| {
        let all: Vec<usize> = (0..rows).collect();
        let xd = dropped_rows(xh, &mh[i * b * f..(i + 1) * b * f], &all, (t, f));
        let xd = ArrayView2::from_shape((rows, f), &xd[..]).expect("sized");
        general_mat_mul(
            1.0,
            &xd,
            &kernel.slice(s![.., i * u..(i + 1) * u]),
            0.0,
            block,
        );
        let bias = &bh[i * u..(i + 1) * u];
        for mut row in block.rows_mut() {
            row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
        }
    });
    Tensor::from_vec(&device, [rows, gu], out)
}

/// The input gradient of the module's doc: `[B, T, F]`.
pub(crate) fn gate_input_grad(dz: &Tensor, kernel: &Tensor, masks: &Tensor) -> Result<Tensor> {
    let device = f32_device("gate_input_grad", &[dz, kernel, masks])?;
    let (&[rows, gu], &[f, kgu], &[g, b, mf]) = (dz.dims(), kernel.dims(), masks.dims()) else {
        return Err(shape_error(
            "gate_input_grad",
            &[None, None],
            dz.dims(),
            "dz [B·T, G·U], kernel [F, G·U], masks [G, B, F]",
        ));
    };
    if g == 0 || kgu != gu || gu % g != 0 || mf != f || b == 0 || rows % b != 0 {
        return Err(Error::Config(format!(
            "gate_input_grad: dz {:?}, kernel {:?}, masks {:?}",
            dz.dims(),
            kernel.dims(),
            masks.dims()
        )));
    }
    let (u, t) = (gu / g, rows / b);
    if !matches!(device, Device::Cpu) {
        let mut dx: Option<Tensor> = None;
        for i in 0..g {
            let (dz_i, k_i) = (slice(dz, 1, i * u, u)?, slice(kernel, 1, i * u, u)?);
            let part = matmul(&dz_i, &k_i, Transpose::B)?.reshape([b, t, f])?;
            let m = slice(masks, 0, i, 1)?.reshape([b, f])?;
            let part = dropout_apply(&part, &m)?;
            dx = Some(match dx {
                Some(sum) => binary(&sum, &part, BinaryOp::Add)?,
                None => part,
            });
        }
        return dx.ok_or_else(|| Error::Config("gate_input_grad: no gates".into()));
    }
    let (d, k, m) = (host(dz), host(kernel), host(masks));
    let (d, k, m) = (d.f32(), k.f32(), m.f32());
    let dz = ArrayView2::from_shape((rows, gu), d).expect("checked above");
    let kernel = ArrayView2::from_shape((f, gu), k).expect("checked above");
    let mut dx = vec![0.0f32; rows * f];
    let mut part = ndarray::Array2::<f32>::zeros((rows, f));
    for i in 0..g {
        let cols = s![.., i * u..(i + 1) * u];
        gemm_then(
            &dz.slice(cols),
            &kernel.slice(cols).t(),
            &mut part.view_mut(),
            |_, _| {},
        );
        let mask = &m[i * b * f..(i + 1) * b * f];
        let part = part.as_slice().expect("standard layout");
        for (row, (acc, p)) in dx
            .chunks_exact_mut(f.max(1))
            .zip(part.chunks_exact(f.max(1)))
            .enumerate()
        {
            let mr = &mask[(row / t) * f..(row / t + 1) * f];
            for ((a, &p), &mv) in acc.iter_mut().zip(p).zip(mr) {
                *a += p * mv;
            }
        }
    }
    Tensor::from_vec(&device, [b, t, f], dx)
}

/// Rows `idx` of v `[B·T, F]`, each times its sample's mask row (`mask` `[B, F]`).
fn dropped_rows(v: &[f32], mask: &[f32], idx: &[usize], (t, f): (usize, usize)) -> Vec<f32> {
    let mut out = vec![0.0f32; idx.len() * f];
    for (dst, &row) in out.chunks_exact_mut(f.max(1)).zip(idx) {
        let m = &mask[(row / t) * f..(row / t + 1) * f];
        for ((o, &x), &m) in dst.iter_mut().zip(&v[row * f..(row + 1) * f]).zip(m) {
            *o = x * m;
        }
    }
    out
}

/// The weight gradient of the module's doc: `[F, n·U]` for gates `g0..g0 + n`.
pub(crate) fn dropped_weight_grad(
    v: &Tensor,
    masks: &Tensor,
    (g0, n): (usize, usize),
    dz: &Tensor,
    kept: Option<&Tensor>,
) -> Result<Tensor> {
    let device = f32_device("dropped_weight_grad", &[v, masks, dz])?;
    let (&[b, t, f], &[g, mb, mf], &[dr, nu]) = (v.dims(), masks.dims(), dz.dims()) else {
        return Err(shape_error(
            "dropped_weight_grad",
            &[None, None, None],
            v.dims(),
            "v must be [B, T, F], masks [G, B, F] and dz [N, n·U]",
        ));
    };
    let rows = kept.map_or(b * t, |k| k.numel());
    if (mb, mf) != (b, f) || n == 0 || g0 + n > g || nu % n != 0 || dr != rows {
        return Err(Error::Config(format!(
            "dropped_weight_grad: v {:?}, masks {:?}, gates {g0}..{}, dz {:?} for {rows} rows",
            v.dims(),
            masks.dims(),
            g0 + n,
            dz.dims()
        )));
    }
    let u = nu / n;
    if !matches!(device, Device::Cpu) {
        return composed((v, masks, dz, kept), (g0, n), (b, f, u));
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
    let (h, r, d) = (host(v), host(masks), host(dz));
    let (h, r, d) = (h.f32(), r.f32(), d.f32());
    let dz = ArrayView2::from_shape((rows, nu), d).expect("checked above");
    let mut out = crate::device::cpu_pool::overwritten(f * nu);
    let mut view = ArrayViewMut2::from_shape((f, nu), &mut out[..]).expect("sized");
    per_column_block(&mut view, u, |i, block| {
        // gate g's dropped v on the kept rows, then its product into block i
        let gate = &r[(g0 + i) * b * f..(g0 + i + 1) * b * f];
        let dropped = dropped_rows(h, gate, &idx, (t, f));
        let dropped = ArrayView2::from_shape((rows, f), &dropped[..]).expect("sized");
        let dz_i = dz.slice(s![.., i * u..(i + 1) * u]);
        general_mat_mul(1.0, &dropped.t(), &dz_i, 0.0, block);
    });
    Tensor::from_vec(&device, [f, nu], out)
}

/// The GPU's: per gate, v ⊙ m_g (a copy), its kept rows, times its columns of dz.
fn composed(
    (v, masks, dz, kept): (&Tensor, &Tensor, &Tensor, Option<&Tensor>),
    (g0, n): (usize, usize),
    (b, f, u): (usize, usize, usize),
) -> Result<Tensor> {
    let rows_of = |t: Tensor| -> Result<Tensor> {
        let t = t.reshape([t.numel() / f, f])?;
        kept.map_or(Ok(t.clone()), |k| gather_rows(&t, k))
    };
    let parts = (0..n)
        .map(|i| {
            let mask = slice(masks, 0, g0 + i, 1)?.reshape([b, f])?;
            let dropped = rows_of(dropout_apply(v, &mask)?)?;
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
