//! Dropout as kernels (`shaders/dropout.wgsl`): counter-based random keep-masks, the same bits
//! on the CPU and on every GPU, and their application.
//!
//! mask:  (shape, rate, seed, counter) -> mask: `shape`, `1 / (1 - rate)` where kept, else 0.
//! apply: x: `[B, T, F]`, mask: `[B, F]` -> x * mask broadcast over the steps (SpatialDropout1D,
//!        a recurrent layer's input mask); or x and mask of one shape -> x * mask (Dropout).
//!
//! A mask element depends only on `(seed, counter, index)`: [`keep_hash`] (xxHash32 of those
//! words, u32 arithmetic only since WGSL has no u64) compared with `ceil(rate * 2^32)` as an
//! integer. So the same seed and counter give the same mask bit for bit on the CPU reference
//! and on any GPU, whatever the grid; a layer advances its counter on every training call.

use super::{buf, f32_device, gpu_output, gpu_tensor, groups, host, shape_error};
use crate::device::{Device, Kernel};
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) const KERNEL: Kernel = Kernel {
    name: "dropout",
    source: include_str!("../../shaders/dropout.wgsl"),
    params: Params::LAYOUT,
    entries: &[("dropout_mask", 1), ("dropout_apply", 3)],
    trusted: false,
};

params! {
    struct Params {
        n: u32,
        steps: u32,
        features: u32,
        threshold: u32,
        scale: f32,
        seed_lo: u32,
        seed_hi: u32,
        counter_lo: u32,
        counter_hi: u32,
    }
}

const P1: u32 = 2_654_435_761;
const P2: u32 = 2_246_822_519;
const P3: u32 = 3_266_489_917;

fn lane(acc: u32, word: u32) -> u32 {
    acc.wrapping_add(word.wrapping_mul(P2))
        .rotate_left(13)
        .wrapping_mul(P1)
}

/// The 32 random bits behind mask element `index` of call `counter` of stream `seed`:
/// xxHash32's 16-byte path over the words `(seed_hi, counter_lo, counter_hi, index)` with
/// `seed_lo` as its seed (the WGSL kernel computes the same bits). Element `index` is kept
/// when the bits are at least `ceil(rate * 2^32)`, i.e. when `bits / 2^32 >= rate`.
///
/// ```
/// use wgfit::ops::dropout::keep_hash;
/// assert_eq!(keep_hash(7, 0, 3), keep_hash(7, 0, 3));
/// assert_ne!(keep_hash(7, 0, 3), keep_hash(7, 1, 3)); // another call, other bits
/// ```
pub fn keep_hash(seed: u64, counter: u64, index: u32) -> u32 {
    let s = seed as u32;
    let v1 = lane(s.wrapping_add(P1).wrapping_add(P2), (seed >> 32) as u32);
    let v2 = lane(s.wrapping_add(P2), counter as u32);
    let v3 = lane(s, (counter >> 32) as u32);
    let v4 = lane(s.wrapping_sub(P1), index);
    let mut h = v1
        .rotate_left(1)
        .wrapping_add(v2.rotate_left(7))
        .wrapping_add(v3.rotate_left(12))
        .wrapping_add(v4.rotate_left(18))
        .wrapping_add(16);
    h = (h ^ (h >> 15)).wrapping_mul(P2);
    h = (h ^ (h >> 13)).wrapping_mul(P3);
    h ^ (h >> 16)
}

/// A dropout rate checked to be in `[0, 1)` (Keras refuses rates outside `[0, 1]`; a rate of
/// 1 would scale by infinity), or an [`Error::Config`] naming `what`.
pub(crate) fn check_rate(what: &str, rate: f32) -> Result<f32> {
    if (0.0..1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(Error::Config(format!(
            "{what}: rate must be in [0, 1), got {rate}"
        )))
    }
}

/// The threshold the bits are compared with and the scale of kept elements: `1 / (1 - rate)`
/// computed in double precision and rounded once to f32, as TensorFlow's dropout does with a
/// Python float rate.
fn threshold_and_scale(rate: f32) -> (u32, f32) {
    let rate = f64::from(rate);
    let threshold = (rate * 4_294_967_296.0).ceil().min(f64::from(u32::MAX)) as u32;
    (threshold, (1.0 / (1.0 - rate)) as f32)
}

/// An inverted-dropout mask of `shape` on `device`: `1 / (1 - rate)` where element `i` is
/// kept (`keep_hash(seed, counter, i) / 2^32 >= rate`), else 0. Masks of the same
/// `(shape, rate, seed, counter)` are equal bit for bit on every device.
///
/// # Errors
/// [`Error::Config`] for a rate outside `[0, 1)` (or NaN); [`Error::Device`] when the GPU
/// cannot allocate it.
///
/// ```
/// use wgfit::Device;
/// use wgfit::ops::dropout::dropout_mask;
/// let mask = dropout_mask(&Device::cpu(), [2, 1000], 0.25, 42, 0)?.to_vec_blocking()?;
/// assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0 / 0.75));
/// let kept = mask.iter().filter(|&&m| m > 0.0).count();
/// assert!((1400..1600).contains(&kept)); // about 75% of 2000
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn dropout_mask(
    device: &Device,
    shape: impl Into<Shape>,
    rate: f32,
    seed: u64,
    counter: u64,
) -> Result<Tensor> {
    let shape = shape.into();
    let (threshold, scale) = threshold_and_scale(check_rate("dropout_mask", rate)?);
    let n = shape.numel();
    match device {
        Device::Cpu => {
            let mask = (0..n)
                .map(|i| {
                    if keep_hash(seed, counter, i as u32) >= threshold {
                        scale
                    } else {
                        0.0
                    }
                })
                .collect();
            Tensor::from_vec(device, shape, mask)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, &shape)?;
            let params = Params {
                n: n as u32,
                steps: 0,
                features: 0,
                threshold,
                scale,
                seed_lo: seed as u32,
                seed_hi: (seed >> 32) as u32,
                counter_lo: counter as u32,
                counter_hi: (counter >> 32) as u32,
            };
            ctx.dispatch(
                &KERNEL,
                "dropout_mask",
                &[&out],
                bytemuck::bytes_of(&params),
                groups(n),
            )?;
            Ok(gpu_tensor(device, shape, out))
        }
    }
}

/// `x * mask`: with a mask of x's own shape, elementwise (Dropout, and its backward
/// `dx = dy * mask`); with x: `[B, T, F]` and mask: `[B, F]`, the mask broadcast over the `T`
/// steps (SpatialDropout1D, a recurrent layer's input dropout). -> `[B, T, F]`, x's shape.
///
/// # Errors
/// [`Error::Shape`] when the mask is neither x's shape nor `[B, F]` for
/// a 3-d x; [`Error::Data`] for u32 tensors or tensors on two devices.
///
/// ```
/// use wgfit::{Device, Tensor};
/// use wgfit::ops::dropout::dropout_apply;
/// let device = Device::cpu();
/// let x = Tensor::from_vec(&device, [1, 2, 2], vec![1.0, 2.0, 3.0, 4.0])?;
/// let mask = Tensor::from_vec(&device, [1, 2], vec![0.0, 2.0])?; // drop feature 0 at every step
/// assert_eq!(dropout_apply(&x, &mask)?.to_vec_blocking()?, vec![0.0, 4.0, 0.0, 8.0]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn dropout_apply(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let device = f32_device("dropout_apply", &[x, mask])?;
    let (steps, features) = match (x.dims(), mask.dims()) {
        (xd, md) if xd == md => (1, x.numel()),
        (&[b, t, f], &[mb, mf]) if (mb, mf) == (b, f) => (t, f),
        (xd, md) => {
            let expected: Vec<Option<usize>> = match xd {
                &[b, _, f] => vec![Some(b), Some(f)],
                _ => xd.iter().map(|&d| Some(d)).collect(),
            };
            return Err(shape_error(
                "dropout_apply",
                &expected,
                md,
                "the mask must have x's shape, or be [B, F] for x: [B, T, F]",
            ));
        }
    };
    let n = x.numel();
    match &device {
        Device::Cpu => {
            let (xs, ms) = (host(x), host(mask));
            let (xs, ms) = (xs.f32(), ms.f32());
            // Row by row (one mask row per `steps` rows of x): no division per element,
            // which cost a recurrent layer's gradient under recurrent dropout 4x its GEMMs.
            let mut out = Vec::with_capacity(n);
            if n > 0 {
                for (xb, mb) in xs.chunks(steps * features).zip(ms.chunks(features)) {
                    for xr in xb.chunks(features) {
                        out.extend(xr.iter().zip(mb).map(|(a, m)| a * m));
                    }
                }
            }
            Tensor::from_vec(&device, x.shape().clone(), out)
        }
        Device::Gpu(ctx) => {
            let out = gpu_output(ctx, x.shape())?;
            let params = Params {
                n: n as u32,
                steps: steps as u32,
                features: features as u32,
                threshold: 0,
                scale: 0.0,
                seed_lo: 0,
                seed_hi: 0,
                counter_lo: 0,
                counter_hi: 0,
            };
            ctx.dispatch(
                &KERNEL,
                "dropout_apply",
                &[&out, buf(x), buf(mask)],
                bytemuck::bytes_of(&params),
                groups(n),
            )?;
            Ok(gpu_tensor(&device, x.shape().clone(), out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_hash_is_xxhash32_of_the_four_words() {
        // XXH32 with seed 0 of the 16 bytes 04 03 02 01 05 00 00 00 06 00 00 00 07 00 00 00
        // (the words 0x01020304, 5, 6, 7, little-endian): 0x43f4c0fa, the content checksum
        // of the LZ4 frame `lz4` 1.9.4 writes for them (it writes 0x02cc5d05, XXH32's published
        // value, for no bytes).
        let seed = 0x0102_0304u64 << 32;
        let counter = (6u64 << 32) | 5;
        assert_eq!(keep_hash(seed, counter, 7), 0x43f4_c0fa);
    }

    #[test]
    fn thresholds_and_scales_follow_the_rate() {
        assert_eq!(threshold_and_scale(0.0), (0, 1.0));
        assert_eq!(threshold_and_scale(0.5), (1 << 31, 2.0));
        let (t, s) = threshold_and_scale(0.1);
        assert_eq!(t, (0.1f32 as f64 * 4_294_967_296.0).ceil() as u32);
        assert_eq!(s, (1.0 / (1.0 - 0.1f32 as f64)) as f32);
        assert!(threshold_and_scale(1.0 - f32::EPSILON / 2.0).0 < u32::MAX);
        for bad in [-0.1, 1.0, 1.5, f32::NAN] {
            assert!(matches!(check_rate("x", bad), Err(Error::Config(_))));
        }
    }
}
