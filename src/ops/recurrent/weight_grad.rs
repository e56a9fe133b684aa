//! The recurrent kernel's gradient under recurrent dropout: hprev `[B, T, U]`, rdrop
//! `[G, B, U]`, dz `[N, n·U]` (the kept rows' gradients of gates g0..g0 + n), kept `[N]`
//! (rows of B·T; all B·T rows without it) -> `[U, n·U]`, column block i = (hprev ⊙ r_g)ᵀ dz_i
//! over the kept rows, with g = g0 + i: h_prev as gate g's recurrent product saw it.
//!
//! On the CPU each gate's dropped, gathered h_prev is written once into one scratch and
//! multiplied straight into its block of the output (no dropped copy of the whole sequence,
//! no column slices of dz, no concatenation: those copies cost W4d as much as its GEMMs). On
//! a GPU the same product from the dropout, gather, slice, matmul and concat kernels.

use ndarray::{ArrayView2, ArrayViewMut2, s};

use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::cpu_gemm::gemm_then;
use crate::ops::dropout::dropout_apply;
use crate::ops::gather::gather_rows;
use crate::ops::matmul::{Transpose, matmul};
use crate::ops::merge::{concat, slice};
use crate::ops::{f32_device, host, shape_error};
use crate::tensor::Tensor;

/// See the module's doc: `[U, n·U]` for gates `g0..g0 + n` (`gates`).
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
    let mut out = vec![0.0f32; u * n * u];
    let mut scratch = vec![0.0f32; rows * u];
    let mut out_view = ArrayViewMut2::from_shape((u, n * u), &mut out[..]).expect("sized");
    for i in 0..n {
        let gate = &r[(g0 + i) * b * u..(g0 + i + 1) * b * u];
        for (dst, &row) in scratch.chunks_exact_mut(u).zip(&idx) {
            let mask = &gate[(row / t) * u..(row / t + 1) * u];
            for ((o, &hv), &m) in dst.iter_mut().zip(&h[row * u..(row + 1) * u]).zip(mask) {
                *o = hv * m;
            }
        }
        let dropped = ArrayView2::from_shape((rows, u), &scratch[..]).expect("sized");
        let cols = s![.., i * u..(i + 1) * u];
        gemm_then(
            &dropped.t(),
            &dz.slice(cols),
            &mut out_view.slice_mut(cols),
            |_, _| {},
        );
    }
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
