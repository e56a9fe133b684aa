//! The edge where data becomes a validated `Batch`: every input checked against its
//! `InputSpec` (shape, finite values, token ids below the vocabulary of the layers an id
//! input feeds), every target against its output and loss (one-hot made from class ids),
//! each row remembering which sample of the data it holds, so errors name it. Layers and
//! kernels trust what comes past here.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::build::Built;
use super::functional::Compiled;
use super::graph::Graph;
use crate::device::Device;
use crate::error::{Error, Result, ShapeError};
use crate::layers::Dims;
use crate::losses::Loss;
use crate::shape::InputSpec;
use crate::tensor::Tensor;

/// One batch, validated and on the device.
pub(crate) struct Batch {
    /// One tensor per model input: f32 values, or u32 token ids for an id input.
    pub(crate) inputs: Vec<Tensor>,
    /// One dense f32 target per output (one-hot for sparse labels); empty for `predict`.
    pub(crate) targets: Vec<Tensor>,
    /// The data's sample index of each row.
    pub(crate) samples: Vec<usize>,
    /// Each row's weight in the losses and metrics (Keras's `sample_weight`), `[B]`.
    pub(crate) weights: Option<Tensor>,
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        self.samples.len()
    }
}

/// What the edge checks data against: the model's inputs and outputs.
#[derive(Clone)]
pub(crate) struct Spec {
    pub(crate) inputs: Vec<(InputSpec, Option<usize>)>,
    pub(crate) outputs: Vec<(Dims, Loss, String)>,
}

impl Spec {
    pub(crate) fn of(graph: &Graph, compiled: &Compiled) -> Spec {
        let built: &Built = compiled
            .built
            .as_ref()
            .expect("built before data is checked");
        Spec {
            inputs: built
                .specs
                .iter()
                .zip(&graph.inputs)
                .map(|(s, i)| (s.clone(), i.ids))
                .collect(),
            outputs: compiled
                .heads
                .iter()
                .enumerate()
                .map(|(k, h)| (built.output_dims(graph, k).clone(), h.loss, h.name.clone()))
                .collect(),
        }
    }
}

/// Where data comes from, for errors: `"x"` or `"validation data"`, the batch number when it
/// is one batch, and the data's sample index of each row.
pub(crate) struct At<'a> {
    pub(crate) validation: bool,
    pub(crate) batch: Option<usize>,
    pub(crate) samples: Option<&'a [usize]>,
}

impl At<'_> {
    fn sample(&self, row: usize) -> usize {
        self.samples
            .and_then(|s| s.get(row).copied())
            .unwrap_or(row)
    }

    /// Marks an error as the validation data's.
    pub(crate) fn wrap(&self, e: Error) -> Error {
        if self.validation {
            Error::Validation(Box::new(e))
        } else {
            e
        }
    }
}

/// One input's checked values.
pub(crate) enum Checked {
    Values(ArrayD<f32>),
    Ids { ids: Vec<u32>, dims: Vec<usize> },
}

impl Checked {
    pub(crate) fn dims(&self) -> &[usize] {
        match self {
            Checked::Values(a) => a.shape(),
            Checked::Ids { dims, .. } => dims,
        }
    }

    /// Rows `idx` on `device`.
    pub(crate) fn rows(&self, device: &Device, idx: &[usize]) -> Result<Tensor> {
        match self {
            Checked::Values(a) => {
                if idx.len() == a.shape()[0] && idx.iter().enumerate().all(|(i, &r)| i == r) {
                    Tensor::from_array(device, a)
                } else {
                    Tensor::from_array(device, &a.select(ndarray::Axis(0), idx))
                }
            }
            Checked::Ids { ids, dims } => {
                let per = dims[1..].iter().product::<usize>();
                let mut out = Vec::with_capacity(idx.len() * per);
                for &r in idx {
                    out.extend_from_slice(&ids[r * per..(r + 1) * per]);
                }
                let mut d = dims.clone();
                d[0] = idx.len();
                Tensor::from_u32(device, d, out)
            }
        }
    }
}

/// Checks inputs `xs` (one per model input) and targets `ys` (one per output, or none for
/// `predict`), returning the values ready for batching and the sample count.
pub(crate) fn check(
    spec: &Spec,
    xs: &[ArrayViewD<'_, f32>],
    ys: Option<&[ArrayViewD<'_, f32>]>,
    at: &At<'_>,
) -> Result<(Vec<Checked>, Vec<ArrayD<f32>>, usize)> {
    check_inner(spec, xs, ys, at).map_err(|e| at.wrap(e))
}

fn check_inner(
    spec: &Spec,
    xs: &[ArrayViewD<'_, f32>],
    ys: Option<&[ArrayViewD<'_, f32>]>,
    at: &At<'_>,
) -> Result<(Vec<Checked>, Vec<ArrayD<f32>>, usize)> {
    let what = if at.validation {
        "validation data"
    } else {
        "x"
    };
    if xs.len() != spec.inputs.len() {
        return Err(Error::Config(format!(
            "{what}: the model has {} inputs ({}) but {} arrays were given",
            spec.inputs.len(),
            spec.inputs
                .iter()
                .map(|(s, _)| s.layer().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            xs.len()
        )));
    }
    let n = xs[0].shape().first().copied().unwrap_or(0);
    if xs[0].ndim() == 0 || n == 0 {
        return Err(Error::Empty {
            what: what.to_string(),
            sample: None,
        });
    }
    let mut checked = Vec::new();
    for (x, (input_spec, ids)) in xs.iter().zip(&spec.inputs) {
        let m = x.shape().first().copied().unwrap_or(0);
        if x.ndim() == 0 || m != n {
            return Err(Error::Length {
                what: format!("{what} input '{}'", input_spec.layer()),
                x: n,
                y: m,
            });
        }
        let shape_ok = match at.batch {
            Some(b) => input_spec.check_batch(b, x.shape()),
            None => input_spec.check(x.shape()),
        };
        shape_ok.map_err(|e| match (e, ids) {
            (Error::Shape(s), Some(_)) if x.ndim() != 2 => {
                Error::Shape(Box::new(s.because(format!(
                    "input '{}' feeds an Embedding: token ids [N, T], one per step",
                    input_spec.layer()
                ))))
            }
            (e, _) => e,
        })?;
        if let Some((i, _)) = x
            .outer_iter()
            .enumerate()
            .find(|(_, s)| s.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::NonFinite {
                what: "x",
                batch: at.batch,
                sample: at.sample(i),
            });
        }
        checked.push(match ids {
            None => Checked::Values(x.to_owned()),
            Some(vocab) => token_ids(x, *vocab, at)?,
        });
    }
    let Some(ys) = ys else {
        return Ok((checked, Vec::new(), n));
    };
    if ys.len() != spec.outputs.len() {
        return Err(Error::Config(format!(
            "{what}: the model has {} outputs ({}) but {} target arrays were given",
            spec.outputs.len(),
            spec.outputs
                .iter()
                .map(|o| o.2.clone())
                .collect::<Vec<_>>()
                .join(", "),
            ys.len()
        )));
    }
    let targets = ys
        .iter()
        .zip(&spec.outputs)
        .map(|(y, (dims, loss, _))| dense_targets(*loss, dims, y, n, what, at))
        .collect::<Result<_>>()?;
    Ok((checked, targets, n))
}

/// Checks sample weights: one finite value per sample (`[N]`, or `[N, 1]`).
pub(crate) fn check_weights(w: &ArrayViewD<'_, f32>, n: usize, at: &At<'_>) -> Result<Vec<f32>> {
    let per_sample = w.ndim() == 1 || (w.ndim() == 2 && w.shape()[1] == 1);
    if w.ndim() >= 1 && w.shape()[0] != n {
        return Err(at.wrap(Error::Length {
            what: "sample_weight".into(),
            x: n,
            y: w.shape()[0],
        }));
    }
    if !per_sample {
        return Err(at.wrap(
            ShapeError::new(vec![Some(n)], w.shape().to_vec())
                .because("sample_weight holds one weight per sample")
                .into(),
        ));
    }
    if let Some(i) = w.iter().position(|v| !v.is_finite()) {
        return Err(at.wrap(Error::NonFinite {
            what: "sample_weight",
            batch: at.batch,
            sample: at.sample(i),
        }));
    }
    Ok(w.iter().copied().collect())
}

// Every id an integer in 0..vocab.
fn token_ids(x: &ArrayViewD<'_, f32>, vocab: usize, at: &At<'_>) -> Result<Checked> {
    let t = x.shape().get(1).copied().unwrap_or(1).max(1);
    let mut ids = Vec::with_capacity(x.len());
    for (i, &v) in x.iter().enumerate() {
        if !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < vocab) {
            return Err(Error::Token {
                batch: at.batch,
                sample: at.sample(i / t),
                step: i % t,
                id: v,
                vocab,
            });
        }
        ids.push(v as u32);
    }
    Ok(Checked::Ids {
        ids,
        dims: x.shape().to_vec(),
    })
}

/// Checks targets against an output and its loss, returning dense targets
/// `[N, ...output]` (one-hot for the sparse loss).
fn dense_targets(
    loss: Loss,
    output: &Dims,
    y: &ArrayViewD<'_, f32>,
    n: usize,
    what: &str,
    at: &At<'_>,
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
            batch: at.batch,
            sample: at.sample(i),
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
                    batch: at.batch,
                    sample: at.sample(i / per_sample.max(1)),
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
        let err = match at.batch {
            Some(b) => err.in_batch(b),
            None => err,
        };
        return Err(err.into());
    }
    Ok(y)
}
