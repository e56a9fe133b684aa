//! Training data on its way in: validated once on the host (shapes, lengths, labels, finite
//! values), labels made dense (sparse ids to one-hot), then kept resident on the device when
//! it fits so that each batch is a gather of rows, not an upload.

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use crate::device::Device;
use crate::error::{Error, Result, ShapeError};
use crate::layers::Dims;
use crate::losses::Loss;
use crate::ops::gather::gather_rows;
use crate::shape::InputSpec;
use crate::tensor::Tensor;

/// Checks `x` against the model's input spec and returns its sample count.
pub(crate) fn check_x(spec: &InputSpec, x: &ArrayViewD<'_, f32>, what: &str) -> Result<usize> {
    let n = x.shape().first().copied().unwrap_or(0);
    if x.ndim() == 0 || n == 0 {
        return Err(Error::Empty {
            what: what.to_string(),
            sample: None,
        });
    }
    spec.check(x.shape())?;
    if let Some((i, _)) = x
        .outer_iter()
        .enumerate()
        .find(|(_, s)| s.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::NonFinite {
            what: "x",
            batch: None,
            sample: i,
        });
    }
    Ok(n)
}

/// Checks targets against the model's output and the loss, returning dense targets
/// `[N, ...output]` (one-hot for the sparse loss).
pub(crate) fn dense_targets(
    loss: Loss,
    output: &Dims,
    y: &ArrayViewD<'_, f32>,
    n: usize,
    what: &str,
    batch: Option<usize>,
) -> Result<ArrayD<f32>> {
    let m = y.shape().first().copied().unwrap_or(0);
    if y.ndim() == 0 || m != n {
        return Err(Error::Length {
            what: what.to_string(),
            x: n,
            y: m,
        });
    }
    if let Some((i, _)) = y
        .outer_iter()
        .enumerate()
        .find(|(_, s)| s.iter().any(|v| !v.is_finite()))
    {
        return Err(Error::NonFinite {
            what: "y",
            batch,
            sample: i,
        });
    }
    let out: Vec<usize> = output.iter().map(|d| d.unwrap_or(0)).collect();
    // Dims of the output that a target must match; None (a free time axis) matches any.
    let fits = |got: &[usize], want: &[Option<usize>]| {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| w.is_none_or(|w| w == *g))
    };
    if loss == Loss::SparseCategoricalCrossentropy {
        let classes = out.last().copied().unwrap_or(0);
        // One class id per output row: [N] for [N, C] outputs, [N, T] for [N, T, C].
        let row_dims = &output[..output.len().saturating_sub(1)];
        let ids_shape = if y.ndim() == row_dims.len() + 2 && y.shape().last() == Some(&1) {
            &y.shape()[1..y.ndim() - 1]
        } else {
            &y.shape()[1..]
        };
        if !fits(ids_shape, row_dims) {
            let mut expected = vec![None];
            expected.extend(row_dims.iter().copied());
            return Err(ShapeError::new(expected, y.shape().to_vec())
                .because(format!("{what}: sparse categorical crossentropy takes one integer class id per output row"))
                .into());
        }
        let mut dims = vec![n];
        dims.extend_from_slice(ids_shape);
        let per_sample = y.len() / n;
        dims.push(classes);
        let mut dense = ArrayD::zeros(IxDyn(&dims));
        let flat = dense.as_slice_mut().expect("a new array is contiguous");
        for (i, &label) in y.iter().enumerate() {
            if label < 0.0 || label.fract() != 0.0 || label as usize >= classes {
                return Err(Error::Label {
                    batch,
                    sample: i / per_sample.max(1),
                    label,
                    classes,
                });
            }
            flat[i * classes + label as usize] = 1.0;
        }
        return Ok(dense);
    }
    // Keras accepts [N] targets for a [N, 1] output.
    let y = if y.ndim() == 1 && out == [1] {
        y.to_shape((n, 1))
            .expect("n elements")
            .into_dyn()
            .into_owned()
    } else {
        y.to_owned()
    };
    if !fits(&y.shape()[1..], output) {
        let mut expected = vec![None];
        expected.extend(output.iter().copied());
        let err = ShapeError::new(expected, y.shape().to_vec());
        let classes_differ = y.shape().last() != out.last();
        let err = if loss == Loss::CategoricalCrossentropy && classes_differ {
            err.because(format!(
                "{what}: one-hot labels have {} classes but the model outputs {} (use to_categorical with num_classes = {})",
                y.shape().last().copied().unwrap_or(0),
                out.last().copied().unwrap_or(0),
                out.last().copied().unwrap_or(0)
            ))
        } else {
            err.because(format!("{what}: targets must match the model's output"))
        };
        return Err(err.into());
    }
    Ok(y)
}

/// Samples ready for batching: on the device when they fit, else on the host.
pub(crate) enum Source {
    Resident { x: Tensor, y: Tensor },
    Host { x: ArrayD<f32>, y: ArrayD<f32> },
}

/// Resident data may take at most this much of the device (x and y together).
const RESIDENT_BUDGET: u64 = 1 << 30;

impl Source {
    /// Resident on the device when it fits, unless the first layer must see batches on the
    /// host anyway (`host_batches`).
    pub(crate) fn new(
        device: &Device,
        x: ArrayD<f32>,
        y: ArrayD<f32>,
        host_batches: bool,
    ) -> Result<Source> {
        let (xb, yb) = (x.len() as u64 * 4, y.len() as u64 * 4);
        let fits = match device {
            Device::Cpu => true,
            Device::Gpu(ctx) => {
                let limit = ctx.limits().max_storage_buffer_binding_size;
                xb <= limit && yb <= limit && xb + yb <= RESIDENT_BUDGET
            }
        };
        Ok(if fits && !host_batches {
            let (n, xs, ys) = (
                x.shape()[0],
                x.len() / x.shape()[0],
                y.len() / y.shape()[0].max(1),
            );
            // The arrays move into the tensors: on the CPU no second copy of the data set.
            Source::Resident {
                x: Tensor::from_vec(device, [n, xs], into_vec(x))?,
                y: Tensor::from_vec(device, [n, ys], into_vec(y))?,
            }
        } else {
            Source::Host { x, y }
        })
    }

    /// The batch of the given sample indices: x `[B, ...]` and y on the device, and x on the
    /// host when the data lives there.
    pub(crate) fn batch(
        &self,
        device: &Device,
        idx: &[usize],
        x_dims: &[usize],
        y_dims: &[usize],
    ) -> Result<(Tensor, Tensor, Option<ArrayD<f32>>)> {
        let mut xd = vec![idx.len()];
        xd.extend_from_slice(x_dims);
        let mut yd = vec![idx.len()];
        yd.extend_from_slice(y_dims);
        match self {
            Source::Resident { x, y } => {
                let ids =
                    Tensor::from_u32(device, [idx.len()], idx.iter().map(|&i| i as u32).collect())?;
                Ok((
                    gather_rows(x, &ids)?.reshape(xd)?,
                    gather_rows(y, &ids)?.reshape(yd)?,
                    None,
                ))
            }
            Source::Host { x, y } => {
                let xb = x.select(Axis(0), idx);
                Ok((
                    Tensor::from_array(device, &xb)?,
                    Tensor::from_array(device, &y.select(Axis(0), idx))?,
                    Some(xb),
                ))
            }
        }
    }
}

/// The array's values in row-major order, reusing its buffer when it already is row-major.
fn into_vec(a: ArrayD<f32>) -> Vec<f32> {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    let len = a.len();
    let (v, offset) = a.into_raw_vec_and_offset();
    let offset = offset.unwrap_or(0);
    if offset == 0 && v.len() == len {
        v
    } else {
        v[offset..offset + len].to_vec()
    }
}
