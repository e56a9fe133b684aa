//! Ops: one file per op family, each holding the GPU dispatch of `shaders/{family}.wgsl`
//! beside its CPU twin (the reference the kernel is tested against).
//!
//! Every op checks shapes and devices on the host, then either runs the CPU twin or records
//! one dispatch into the device's pending encoder (nothing is submitted here).

/// Declares a kernel's uniform `Params` struct (`#[repr(C)]`, `Pod`) and its
/// `Params::LAYOUT`: the fields' names, byte offsets (`offset_of!`) and types, and the size, which the
/// op's [`Kernel`](crate::device::Kernel) carries so the struct is checked against the WGSL
/// one (`tests/shader_params.rs`) and against every dispatch, without a hand-kept copy.
macro_rules! params {
    ($(#[$attr:meta])* $vis:vis struct $name:ident { $($(#[$field_attr:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$attr])*
        #[repr(C)]
        #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$field_attr])* $field: $ty),*
        }

        impl $name {
            /// The fields' names, byte offsets and types, and the size.
            $vis const LAYOUT: crate::device::ParamsLayout = crate::device::ParamsLayout {
                fields: &[$((
                    stringify!($field),
                    std::mem::offset_of!($name, $field),
                    stringify!($ty),
                )),*],
                size: std::mem::size_of::<$name>(),
            };
        }
    };
}

pub mod adam;
pub mod bias_act;
pub(crate) mod cpu_gemm;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub(crate) mod fast_math;
pub mod gather;
pub mod gru_cell;
pub mod loss;
pub mod lstm_cell;
pub mod masked_reduce;
pub mod masking;
pub mod matmul;
pub mod merge;
pub mod normalization;
pub mod recurrent;
pub mod reduce;
pub mod reverse_time;
pub mod rmsprop;
pub mod sgd;
pub(crate) mod simd;
pub mod simple_rnn_cell;
pub mod softmax;
pub mod transpose;

use std::sync::Arc;

use crate::device::{Device, GpuBuffer, GpuContext, Kernel};
use crate::error::{Error, Result, ShapeError};
use crate::shape::Shape;
use crate::tensor::{CpuData, DType, Storage, Tensor};

/// Every WGSL kernel wgfit dispatches, with its `Params` layout and entry points, for
/// `tests/shader_params.rs` (which checks them against the WGSL with naga). Not an API.
#[doc(hidden)]
pub fn kernels() -> Vec<&'static Kernel> {
    let mut kernels: Vec<&'static Kernel> = vec![
        &adam::KERNEL,
        &bias_act::KERNEL,
        &dropout::KERNEL,
        &elementwise::KERNEL,
        &embedding::KERNEL,
        &gather::KERNEL,
        &loss::KERNEL,
        &masked_reduce::KERNEL,
        &masked_reduce::KERNEL_SUBGROUP,
        &masked_reduce::KERNEL_WORKGROUP,
        &masking::KERNEL,
        &merge::KERNEL,
        &normalization::KERNEL,
        &reduce::KERNEL,
        &reduce::KERNEL_SUBGROUP,
        &reduce::KERNEL_COLUMNS,
        &reverse_time::KERNEL,
        &rmsprop::KERNEL,
        &sgd::KERNEL,
        &softmax::KERNEL,
        &softmax::KERNEL_SUBGROUP,
        &transpose::KERNEL,
    ];
    kernels.extend(lstm_cell::kernels());
    kernels.extend(gru_cell::kernels());
    kernels.extend(simple_rnn_cell::kernels());
    kernels.extend(matmul::kernels());
    kernels
}

/// Invocations per workgroup for the one-thread-per-element kernels: a multiple of every
/// vendor's SIMD width (32, 64) and within the WebGPU default limit of 256.
pub(crate) const WORKGROUP: u64 = 256;

/// The device shared by an op's inputs, which must all be f32 (or the dtype given).
pub(crate) fn common_device(op: &str, inputs: &[(&Tensor, DType)]) -> Result<Device> {
    let first = inputs[0].0.device();
    for (i, (t, dtype)) in inputs.iter().enumerate() {
        if !t.device().same_as(first) {
            return Err(Error::Data(format!(
                "{op}: input {i} is on {} but input 0 is on {}; move tensors to one device",
                t.device().info(),
                first.info()
            )));
        }
        t.expect_dtype(*dtype, op)?;
    }
    Ok(first.clone())
}

/// Inputs that must all be f32.
pub(crate) fn f32_device(op: &str, inputs: &[&Tensor]) -> Result<Device> {
    let typed: Vec<(&Tensor, DType)> = inputs.iter().map(|t| (*t, DType::F32)).collect();
    common_device(op, &typed)
}

/// A shape error for op `op`: `expected` vs `actual`, with a reason.
pub(crate) fn shape_error(
    op: &str,
    expected: &[Option<usize>],
    actual: &[usize],
    why: &str,
) -> Error {
    ShapeError::new(expected.to_vec(), actual.to_vec())
        .for_layer(op)
        .because(why)
        .into()
}

/// The GPU buffer behind a tensor already known to be on the GPU.
pub(crate) fn buf(t: &Tensor) -> &GpuBuffer {
    t.gpu_buffer()
        .expect("op inputs were checked to be on the GPU")
}

/// Host data behind a tensor already known to be on the CPU.
pub(crate) fn host(t: &Tensor) -> crate::tensor::CpuRead<'_> {
    t.cpu_f32()
        .expect("op inputs were checked to be on the CPU")
}

/// A fresh f32 output of `shape` on the GPU (poisoned with NaN when the context asks).
pub(crate) fn gpu_output(ctx: &Arc<GpuContext>, shape: &Shape) -> Result<GpuBuffer> {
    ctx.alloc_output(shape.numel() as u64 * 4)
}

/// Wraps a GPU buffer as a f32 tensor.
pub(crate) fn gpu_tensor(device: &Device, shape: Shape, buffer: GpuBuffer) -> Tensor {
    Tensor::with_storage(device, shape, DType::F32, Storage::Gpu(buffer))
}

/// Whether one workgroup per output (the `*_subgroup` reductions of `reduce` and
/// `masked_reduce`) should replace one invocation per output, for `outputs` sums of `n` terms
/// each, under [`SubgroupUse::Auto`](crate::SubgroupUse::Auto).
/// `reduce` asks only for sums over a last axis (inner = 1): its column sums take the tiled
/// `shaders/reduce_columns.wgsl` on every device.
pub(crate) fn split_sum_helps(device_type: wgpu::DeviceType, outputs: usize, n: usize) -> bool {
    match device_type {
        // Measured on lavapipe (2 shared cores, 8 lanes; `cargo bench --bench kernels --
        // reductions`, two runs, and a sweep by hand), time with subgroups / without: a
        // workgroup per output costs tens of µs of barriers and scheduling there, so it only
        // wins for one long sum (1 x 8192 terms: 0.6, 1 x 60 000: 0.34-0.47) and loses from 4
        // outputs on (4 x 8192: 1.1, 512 x 6400: 2.3-2.6, 6400 x 512: 17-20, masked mean of
        // [64, 100, 128]: 9-10). Few long sums gain too (one run each, by hand: 3 x 60 000:
        // 0.5, 3 x 70 001: 0.35, 4 x 70 001: 0.73; 8 x 70 001: 1.2, 256 x 70 001: 2.2). Sums
        // past a software adapter's loop budget ([`SOFTWARE_LOOP_TRIPS`]) are split over
        // dispatches whichever kernel runs them.
        wgpu::DeviceType::Cpu => (outputs == 1 && n >= 8192) || (outputs < 8 && n >= 60_000),
        // Not measured: no hardware GPU was at hand. Reasoning: with fewer outputs than a GPU
        // has lanes to keep busy, one invocation per output walks each long axis alone on a
        // mostly idle device (a [6400, 512] bias gradient is 512 invocations of 6400 loads),
        // while a workgroup per output puts 256 lanes on each. Where outputs are many or sums
        // short, one invocation per output is kept. Measure with the bench above.
        _ => outputs < 4096 && n >= 256,
    }
}

/// Loop trips that llvmpipe and lavapipe (Mesa's software GL and Vulkan adapters, wgpu's
/// `DeviceType::Cpu`) let one invocation run: then its loops just stop, with no error, leaving
/// sums short and outputs unwritten. Measured on both (Mesa 22.3, `LP_MAX_TGSI_LOOP_ITERATIONS`):
/// the budget is one per invocation (per SIMD batch of 8 invocations, which loop together),
/// shared by all its loops, nested ones, those in called functions and those on either side of
/// a barrier alike; every iteration takes a trip and so does every loop's exit. Loops with a
/// small constant trip count (`k < 4u`, up to 32 in the probe) are unrolled and cost nothing;
/// `k < 64u` was not. Each workgroup, and each batch of 8 invocations in it, has its own
/// budget. Hardware GPUs have no such limit.
pub(crate) const SOFTWARE_LOOP_TRIPS: usize = 65_535;

/// Trips held back from a kernel's long loop for its short ones (workgroup reductions, loop
/// exits), which cost a few dozen at most.
const LOOP_RESERVE: usize = 1_024;

/// The trips a kernel's long loop may take in one dispatch on `ctx`'s adapter: `None` (no
/// limit) on a hardware GPU.
pub(crate) fn loop_budget(ctx: &GpuContext) -> Option<usize> {
    (ctx.device_type() == wgpu::DeviceType::Cpu).then_some(SOFTWARE_LOOP_TRIPS - LOOP_RESERVE)
}

/// The ranges `lo..hi` of a kernel's long loop over `len` steps that successive dispatches
/// cover, each carrying on from what the one before left in its output: the whole loop at
/// once on a hardware GPU; on a software adapter, pieces of `steps(trips)` steps, the most
/// that take `trips` loop trips (the loop budget; `steps` maps it to the kernel's steps, e.g.
/// 256 per trip for a workgroup of 256 striding over the loop). At least one range, so an
/// empty loop still writes its output.
pub(crate) fn loop_ranges(
    ctx: &GpuContext,
    len: usize,
    steps: impl Fn(usize) -> usize,
) -> Vec<(u32, u32)> {
    let chunk = loop_budget(ctx).map_or(len, |trips| steps(trips).max(1));
    if len == 0 {
        return vec![(0, 0)];
    }
    (0..len)
        .step_by(chunk.max(1))
        .map(|lo| (lo as u32, (lo + chunk).min(len) as u32))
        .collect()
}

/// The error for an op whose loop cannot be split over dispatches and would take `trips` trips
/// per invocation, past a software adapter's [`SOFTWARE_LOOP_TRIPS`] (wrong numbers otherwise).
pub(crate) fn loop_budget_error(ctx: &GpuContext, op: &str, what: &str, trips: usize) -> Error {
    Error::device(
        ctx.info().to_string(),
        format!(
            "{op}: {what} takes {trips} loop trips per invocation, but this software adapter \
             ends every invocation's loops after 65 535 (Mesa's loop limit); run it on the CPU \
             reference or a hardware GPU"
        ),
    )
}

/// Workgroups for `n` elements at [`WORKGROUP`] per workgroup.
pub(crate) fn groups(n: usize) -> u64 {
    (n as u64).div_ceil(WORKGROUP)
}

/// Checks that every named tensor has the shape of `reference` (an optimizer's state and
/// gradient against its weights, say).
pub(crate) fn same_shapes(op: &str, reference: &Tensor, others: &[(&str, &Tensor)]) -> Result<()> {
    for (name, t) in others {
        if t.dims() != reference.dims() {
            let expected: Vec<Option<usize>> = reference.dims().iter().map(|&d| Some(d)).collect();
            return Err(shape_error(
                op,
                &expected,
                t.dims(),
                &format!("{name} must have the shape of the weights"),
            ));
        }
    }
    Ok(())
}

/// Tensors an op updates in place must be distinct, not clones sharing one storage.
pub(crate) fn distinct(op: &str, tensors: &[&Tensor]) -> Result<()> {
    for (i, a) in tensors.iter().enumerate() {
        if tensors[i + 1..].iter().any(|b| a.shares_storage(b)) {
            return Err(Error::Data(format!(
                "{op}: the tensors it updates in place and reads must be distinct, not clones of one another"
            )));
        }
    }
    Ok(())
}

/// Runs `f` on the host data of CPU tensors updated in place (checked [`distinct`] first).
pub(crate) fn with_host_mut(
    tensors: &[&Tensor],
    f: impl FnOnce(&mut [&mut Vec<f32>]),
) -> Result<()> {
    distinct("in-place update", tensors)?;
    let mut guards: Vec<_> = tensors
        .iter()
        .map(|t| {
            t.cpu_write()
                .expect("op inputs were checked to be on the CPU")
        })
        .collect();
    let mut slots: Vec<&mut Vec<f32>> = guards
        .iter_mut()
        .map(|g| match &mut **g {
            CpuData::F32(v) => v,
            CpuData::U32(_) => unreachable!("op inputs were checked to be f32"),
        })
        .collect();
    f(&mut slots);
    Ok(())
}
