//! Batched matmul `C = op(A) · op(B)`, and the same with a fused bias + activation; the shape
//! checks and the CPU twin are here, one file per GPU kernel family beside them:
//! `scalar.rs` (`shaders/matmul.wgsl`: the 64x64 tiled and the naive kernels), `vec4.rs`
//! (`shaders/matmul_vec4*.wgsl`: register-blocked, vec4 loads, the epilogue) with `plan.rs`
//! (its tile and K split from the shape, the adapter's limits and type) and `split_sum.rs`
//! (`shaders/matmul_split_sum.wgsl`: split-K's fixed-order sum), and `bias_act.rs`
//! (`matmul_bias_act`).
//!
//! a: `[..., M, K]` (or `[..., K, M]` with A transposed), b: `[..., K, N]` (or `[..., N, K]`) or a
//! single `[K, N]` matrix shared by the whole batch; out: `[..., M, N]`.
//!
//! Every kernel loops over K. On a software adapter (`ops::loop_budget`) a K whose loop would
//! take more trips than the budget is summed over several dispatches, each adding its range of
//! K to the output (`k_ranges`); a hardware GPU takes all of K in one.

mod bias_act;
mod plan;
mod scalar;
mod split_sum;
mod vec4;
mod vec4_source;

use ndarray::{ArrayView2, ArrayViewMut2};

pub use bias_act::matmul_bias_act;

use super::{f32_device, gpu_output, gpu_tensor, host, loop_ranges, shape_error};
use crate::device::{Device, GpuContext, Kernel};
use crate::error::Result;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// Every matmul kernel: the scalar one and each vec4 (tile, I/O) variant.
pub(super) fn kernels() -> Vec<&'static Kernel> {
    let mut kernels = vec![&scalar::KERNEL, &split_sum::KERNEL];
    kernels.extend(vec4::kernels());
    kernels
}

/// The vec4 kernel variant (tile, I/O and transposes, e.g.
/// `matmul_vec4_64x64x16_8x8_vsv_nt`) that a GPU with `limits` runs for `batch` products
/// `op(a)·op(b)` of M x N x K, the number of ranges K is split into, and the workgroups of
/// the kernel's dispatch; `target` is the adapter's target workgroup count, `None` for a
/// software adapter (see `src/ops/matmul/plan.rs`). `None` when no tile fits. For
/// tests/ops_matmul.rs, which checks that its cases reach every variant, and
/// examples/matmul_plans.rs, which prints the plans of the workloads' products.
#[doc(hidden)]
pub fn vec4_variant(
    limits: &wgpu::Limits,
    (batch, m, n, k): (usize, usize, usize, usize),
    transpose: Transpose,
    target: Option<u32>,
) -> Option<(&'static str, u32, u64)> {
    let (trans_a, trans_b) = transpose.flags();
    let dims = Dims {
        batch,
        m,
        n,
        k,
        trans_a,
        trans_b,
        b_batched: false,
    };
    vec4::variant(limits, dims, target)
}

/// Every vec4 variant's name (see [`vec4_variant`]).
#[doc(hidden)]
pub fn vec4_variants() -> Vec<&'static str> {
    vec4::kernels().into_iter().map(|k| k.name).collect()
}

/// The vec4 tiles as `(TM, TN)`, largest first, for [`matmul_bias_act_forced`].
#[doc(hidden)]
pub fn vec4_tiles() -> Vec<(u32, u32)> {
    plan::TILES.iter().map(|t| (t.tm, t.tn)).collect()
}

/// [`matmul_bias_act`] (bias `None` and `Linear`: [`matmul`]) with the vec4 kernel's plan
/// forced: tile `tile` of [`vec4_tiles`] and K split into `splits` ranges (fewer where K has
/// fewer `TK` steps), whatever the adapter; on the CPU the same as without. For the tests of
/// split-K and of the tiles a software adapter never picks.
///
/// # Errors
/// As [`matmul_bias_act`]; [`Error::Config`](crate::Error::Config) for a `tile` past the list
/// or a tile the adapter's limits do not allow.
#[doc(hidden)]
pub fn matmul_bias_act_forced(
    a: &Tensor,
    b: &Tensor,
    transpose: Transpose,
    bias: Option<&Tensor>,
    act: crate::Activation,
    (tile, splits): (usize, u32),
) -> Result<Tensor> {
    let Some(&t) = plan::TILES.get(tile) else {
        return Err(crate::Error::Config(format!("no vec4 tile {tile}")));
    };
    bias_act::matmul_bias_act_planned(a, b, transpose, bias, act, Some((t, splits)))
}

/// Which operands are transposed: `Transpose::A` computes `Aᵀ·B` (the weight gradient
/// `xᵀ·dy`), `Transpose::B` computes `A·Bᵀ` (the input gradient `dy·Wᵀ`).
///
/// The transpose applies to the last two dims only (NumPy's `swapaxes(-1, -2)`); nothing is
/// copied, the kernel reads the operand transposed.
///
/// ```
/// use wgfit::prelude::*;
/// let device = Device::cpu();
/// let a = Tensor::from_vec(&device, [1, 3], vec![1.0, 2.0, 3.0])?;
/// let b = Tensor::from_vec(&device, [2, 3], vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0])?;
/// let c = ops::matmul::matmul(&a, &b, Transpose::B)?; // [1, 3] · [3, 2]
/// assert_eq!(c.dims(), &[1, 2]);
/// assert_eq!(c.to_vec_blocking()?, vec![1.0, 5.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transpose {
    /// `A·B`.
    None,
    /// `Aᵀ·B`: a is `[..., K, M]`.
    A,
    /// `A·Bᵀ`: b is `[..., N, K]` (or `[N, K]`).
    B,
    /// `Aᵀ·Bᵀ`.
    Both,
}

impl Transpose {
    fn flags(self) -> (bool, bool) {
        match self {
            Transpose::None => (false, false),
            Transpose::A => (true, false),
            Transpose::B => (false, true),
            Transpose::Both => (true, true),
        }
    }
}

/// The GPU kernel to use; [`Vec4`](MatmulKernel::Vec4) unless measuring. The CPU reference
/// ignores it.
///
/// ```
/// use wgfit::prelude::*;
/// use wgfit::ops::matmul::{MatmulKernel, matmul_with};
/// assert_eq!(MatmulKernel::default(), MatmulKernel::Vec4);
/// let device = Device::cpu();
/// let a = Tensor::from_vec(&device, [2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// let eye = Tensor::from_vec(&device, [2, 2], vec![1.0, 0.0, 0.0, 1.0])?;
/// for kernel in [MatmulKernel::Vec4, MatmulKernel::Tiled, MatmulKernel::Naive] {
///     let c = matmul_with(&a, &eye, Transpose::None, kernel)?;
///     assert_eq!(c.to_vec_blocking()?, vec![1.0, 2.0, 3.0, 4.0]);
/// }
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatmulKernel {
    /// Register-blocked: 128x128, 64x64, 64x32, 32x64 or 32x32 output tiles, 8x8, 8x4, 4x8
    /// or 4x4 outputs per invocation, operands read as vec4 where their contiguous dim is a
    /// multiple of 4 (4 scalar loads otherwise); the source generated per tile with named
    /// accumulators and unrolled inner loops, the transposes compile-time constants. The
    /// plan (`src/ops/matmul/plan.rs`): on a software adapter the tile quickest there for the
    /// output's size, padding counted (the 64x32 and 32x64 tiles never); on a hardware one the
    /// largest tile that gives its target workgroup count (256 discrete, 32 integrated, 64
    /// otherwise, or `WGFIT_MATMUL_WORKGROUPS`), else K split into ranges whose partial sums
    /// one more dispatch adds in a fixed order (deterministic split-K). The only kernel with
    /// the bias + activation epilogue of [`matmul_bias_act`].
    ///
    /// The default because it was the fastest on the one adapter measured so far, lavapipe
    /// (software Vulkan on 2 CPU cores; BENCHMARKS.md): a correctness vehicle rather than a
    /// GPU, so a real GPU may rank the kernels, and prefer tile shapes, differently; the
    /// hardware plan is reasoning until one is measured.
    #[default]
    Vec4,
    /// 64x64 tiles through workgroup memory, 4x4 outputs per invocation, scalar loads.
    Tiled,
    /// One output per invocation, operands read straight from storage.
    Naive,
}

#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
    b_batched: bool,
}

impl Dims {
    /// Floats between one batch entry of a and the next (b: 0 when b is shared).
    fn strides(&self) -> (u32, u32) {
        let b_stride = if self.b_batched { self.k * self.n } else { 0 };
        ((self.m * self.k) as u32, b_stride as u32)
    }
}

/// `op(a) · op(b)` with the default kernel on the GPU (NumPy's `a @ b`).
///
/// a: `[..., M, K]`, b: `[..., K, N]` with the same leading dims, or a single `[K, N]`
/// shared by the whole batch (a Dense kernel applied to `[B, T, F]`) -> `[..., M, N]`;
/// [`Transpose`] swaps the last two dims of either operand.
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when an operand has fewer than 2 dims, the inner
/// dims differ, or b's batch dims are not a's; [`Error::Data`](crate::Error::Data) for
/// operands on two devices or of dtype u32.
///
/// ```
/// use wgfit::prelude::*;
/// let device = Device::cpu();
/// // a: [K = 3, M = 2], used transposed: aᵀ·b.
/// let a = Tensor::from_vec(&device, [3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let b = Tensor::from_vec(&device, [3, 1], vec![1.0, 0.0, -1.0])?;
/// let c = ops::matmul::matmul(&a, &b, Transpose::A)?;
/// assert_eq!((c.dims(), c.to_vec_blocking()?), (&[2, 1][..], vec![-4.0, -4.0]));
/// // Without the transpose the inner dims (2 and 3) differ.
/// let err = ops::matmul::matmul(&a, &b, Transpose::None).unwrap_err();
/// assert!(matches!(err, Error::Shape(_)));
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn matmul(a: &Tensor, b: &Tensor, transpose: Transpose) -> Result<Tensor> {
    matmul_with(a, b, transpose, MatmulKernel::default())
}

/// `op(a) · op(b)` with an explicit GPU kernel (the CPU ignores `kernel`); shapes and
/// errors as [`matmul`]. Example at [`MatmulKernel`].
pub fn matmul_with(
    a: &Tensor,
    b: &Tensor,
    transpose: Transpose,
    kernel: MatmulKernel,
) -> Result<Tensor> {
    let device = f32_device("matmul", &[a, b])?;
    let (dims, out_shape) = check(a.dims(), b.dims(), transpose)?;
    match &device {
        Device::Cpu => {
            let out = matmul_cpu(host(a).f32(), host(b).f32(), dims, |_, _| {});
            Tensor::from_vec(&device, out_shape, out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &out_shape)?;
            if dims.m * dims.n * dims.batch > 0 {
                match kernel {
                    MatmulKernel::Vec4 => vec4::dispatch(ctx, a, b, None, 0, dims, &out, None)?,
                    MatmulKernel::Tiled | MatmulKernel::Naive => {
                        scalar::dispatch(ctx, a, b, kernel, dims, &out)?;
                    }
                }
            }
            Ok(gpu_tensor(&device, out_shape, out))
        }
    }
}

/// The ranges `begin..end` of K that successive dispatches sum, the first writing the output
/// and the others adding to it: all of K on a hardware GPU; on a software adapter, as many
/// steps of `step` (a kernel's K per trip of its outer loop) as its loop budget allows at
/// `trips_per_step` loop trips each, so every range but the last is a multiple of `step`.
/// One range (0, 0) for K = 0, which still writes the output.
///
/// Trips per step, measured on lavapipe (largest K still correct in one dispatch, M x N = 3 x 5,
/// 17 x 9, 64 x 64, 200 x 200, every transpose): `Naive` 1 per k (65 535), `Tiled` 18 per 16
/// (58 255), `Vec4` 24 per 16 in 32x32 and 128x128 tiles (43 689) and 28 in 64x64 ones
/// (37 424); llvmpipe on GL the same. Each is the count of its loops' trips and exits, which
/// `loop_budget`'s reserve covers the epilogue's loops beside.
fn k_ranges(ctx: &GpuContext, k: usize, step: usize, trips_per_step: usize) -> Vec<(u32, u32)> {
    loop_ranges(ctx, k.div_ceil(step), |trips| trips / trips_per_step)
        .into_iter()
        .map(|(lo, hi)| {
            let begin = lo as usize * step;
            let end = (hi as usize * step).min(k);
            (begin as u32, end as u32)
        })
        .collect()
}

fn check(a: &[usize], b: &[usize], transpose: Transpose) -> Result<(Dims, Shape)> {
    let (trans_a, trans_b) = transpose.flags();
    if a.len() < 2 || b.len() < 2 {
        let (bad, which) = if a.len() < 2 { (a, "a") } else { (b, "b") };
        return Err(shape_error(
            "matmul",
            &[None, None],
            bad,
            &format!("operand {which} must have at least 2 dims"),
        ));
    }
    let (a_batch, a_mat) = a.split_at(a.len() - 2);
    let (b_batch, b_mat) = b.split_at(b.len() - 2);
    let (m, ka) = if trans_a {
        (a_mat[1], a_mat[0])
    } else {
        (a_mat[0], a_mat[1])
    };
    let (kb, n) = if trans_b {
        (b_mat[1], b_mat[0])
    } else {
        (b_mat[0], b_mat[1])
    };
    if ka != kb {
        let expected: Vec<Option<usize>> = b_batch
            .iter()
            .map(|&d| Some(d))
            .chain(if trans_b {
                [None, Some(ka)]
            } else {
                [Some(ka), None]
            })
            .collect();
        return Err(shape_error(
            "matmul",
            &expected,
            b,
            &format!("inner dims differ (a gives K = {ka})"),
        ));
    }
    let b_batched = !b_batch.is_empty();
    if b_batched && a_batch != b_batch {
        let expected: Vec<Option<usize>> = a_batch.iter().chain(b_mat).map(|&d| Some(d)).collect();
        return Err(shape_error(
            "matmul",
            &expected,
            b,
            "batch dims of b must equal those of a (or b must be 2-d)",
        ));
    }
    let batch: usize = a_batch.iter().product();
    let mut out = a_batch.to_vec();
    out.extend([m, n]);
    let dims = Dims {
        batch,
        m,
        n,
        k: ka,
        trans_a,
        trans_b,
        b_batched,
    };
    Ok((dims, Shape(out)))
}

/// CPU twin: per batch entry, `C = op(A) · op(B)` through ndarray's GEMM (split over the
/// cores when large: `cpu_gemm`), then `epilogue(block, first_column)` over C's blocks.
fn matmul_cpu(
    a: &[f32],
    b: &[f32],
    d: Dims,
    epilogue: impl Fn(&mut ArrayViewMut2<'_, f32>, usize) + Sync,
) -> Vec<f32> {
    // The GEMM writes every element of C (without reading it) unless K is 0.
    let len = d.batch * d.m * d.n;
    let mut c = if d.k > 0 {
        crate::device::cpu_pool::overwritten(len)
    } else {
        crate::device::cpu_pool::zeros(len)
    };
    for bi in 0..d.batch {
        let a_mat = &a[bi * d.m * d.k..(bi + 1) * d.m * d.k];
        let b_off = if d.b_batched { bi * d.k * d.n } else { 0 };
        let b_mat = &b[b_off..b_off + d.k * d.n];
        let a_view = if d.trans_a {
            ArrayView2::from_shape((d.k, d.m), a_mat)
                .expect("checked shape")
                .reversed_axes()
        } else {
            ArrayView2::from_shape((d.m, d.k), a_mat).expect("checked shape")
        };
        let b_view = if d.trans_b {
            ArrayView2::from_shape((d.n, d.k), b_mat)
                .expect("checked shape")
                .reversed_axes()
        } else {
            ArrayView2::from_shape((d.k, d.n), b_mat).expect("checked shape")
        };
        let c_mat = &mut c[bi * d.m * d.n..(bi + 1) * d.m * d.n];
        let mut c_view = ArrayViewMut2::from_shape((d.m, d.n), c_mat).expect("checked shape");
        super::cpu_gemm::gemm_then(&a_view, &b_view, &mut c_view, &epilogue);
    }
    c
}
