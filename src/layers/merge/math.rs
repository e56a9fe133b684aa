//! The merge layers' math, forward and backward side by side: sums, differences, means and
//! concatenations, the product (a masked value counts as 1, masked steps of the output are 0
//! when every input has a mask) and the extremes (Keras folds inputs pairwise, skipping masked
//! values; the gradient follows the value chosen).

use super::masks::{concatenated, or_all};
use crate::error::{Error, Result, fmt_dims};
use crate::layers::{Backward, Dims, Forward, Saved};
use crate::ops::elementwise::{BinaryOp, affine, binary, fill};
use crate::ops::merge::{concat, select_rows, slice};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
    Concatenate(isize),
}

impl Op {
    pub(super) fn kind(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Subtract => "subtract",
            Op::Multiply => "multiply",
            Op::Average => "average",
            Op::Maximum => "maximum",
            Op::Minimum => "minimum",
            Op::Concatenate(_) => "concatenate",
        }
    }
}

/// What a merge's backward needs.
enum Kept {
    /// Nothing (sums and concatenations).
    Shapes(Vec<Vec<usize>>),
    /// `Multiply`: each input as multiplied (masked values as 1), the masks, the output mask.
    Product {
        factors: Vec<Tensor>,
        masks: Vec<Option<Tensor>>,
        out_mask: Option<Tensor>,
    },
    /// `Maximum`/`Minimum`: which input each output value came from (its index, as f32).
    Source(Tensor),
}

pub(super) fn merge_shapes(op: Op, inputs: &[Dims]) -> Result<Dims> {
    let kind = op.kind();
    let wanted = if op == Op::Subtract {
        "two"
    } else {
        "at least two"
    };
    if inputs.len() < 2 || (op == Op::Subtract && inputs.len() != 2) {
        return Err(Error::Config(format!(
            "layer {kind} takes {wanted} inputs, got {}",
            inputs.len()
        )));
    }
    let rank = inputs[0].len();
    let axis = match op {
        Op::Concatenate(a) => Some(axis_of(a, rank + 1)? - 1),
        _ => None,
    };
    let listed = || {
        inputs
            .iter()
            .map(|d| fmt_dims(d))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = inputs[0].clone();
    for dims in &inputs[1..] {
        if dims.len() != rank {
            return Err(Error::Config(format!(
                "layer {kind}: inputs of different ranks ({})",
                listed()
            )));
        }
        for (i, (o, d)) in out.iter_mut().zip(dims).enumerate() {
            if Some(i) == axis {
                *o = o.zip(*d).map(|(a, b)| a + b);
            } else if let (Some(a), Some(b)) = (*o, *d) {
                if a != b {
                    return Err(Error::Config(format!(
                        "layer {kind}: input shapes differ in dim {} ({})",
                        i + 1,
                        listed()
                    )));
                }
            } else {
                *o = o.or(*d);
            }
        }
    }
    Ok(out)
}

/// A Keras axis (negative from the end) as an index into a shape of `rank` dims, batch
/// included; the batch axis itself cannot be merged along.
fn axis_of(axis: isize, rank: usize) -> Result<usize> {
    let a = if axis < 0 { rank as isize + axis } else { axis };
    if a < 1 || a >= rank as isize {
        return Err(Error::Config(format!(
            "Concatenate axis {axis} is not a sample axis of inputs of rank {rank} (batch included)"
        )));
    }
    Ok(a as usize)
}

fn same_dims(kind: &str, xs: &[&Tensor]) -> Result<()> {
    if let Some(x) = xs.iter().find(|x| x.dims() != xs[0].dims()) {
        let expected: Vec<Option<usize>> = xs[0].dims().iter().map(|&d| Some(d)).collect();
        return Err(crate::ops::shape_error(
            kind,
            &expected,
            x.dims(),
            "merged inputs must have one shape in every batch",
        ));
    }
    Ok(())
}

pub(super) fn forward(
    op: Op,
    xs: &[&Tensor],
    masks: &[Option<&Tensor>],
    training: bool,
) -> Result<Forward> {
    let kind = op.kind();
    if !matches!(op, Op::Concatenate(_)) {
        same_dims(kind, xs)?;
    }
    let shapes = || Kept::Shapes(xs.iter().map(|x| x.dims().to_vec()).collect());
    let sum = || -> Result<Tensor> {
        let mut out = xs[0].clone();
        for x in &xs[1..] {
            out = binary(&out, x, BinaryOp::Add)?;
        }
        Ok(out)
    };
    let (out, mask, kept) = match op {
        Op::Add => (sum()?, or_all(masks)?, shapes()),
        Op::Subtract => (
            binary(xs[0], xs[1], BinaryOp::Sub)?,
            or_all(masks)?,
            shapes(),
        ),
        Op::Average => {
            let n = fill(xs[0].device(), xs[0].dims().to_vec(), xs.len() as f32)?;
            (
                binary(&sum()?, &n, BinaryOp::Div)?,
                or_all(masks)?,
                shapes(),
            )
        }
        Op::Concatenate(axis) => {
            let a = axis_of(axis, xs[0].dims().len())?;
            (concat(xs, a)?, concatenated(xs, masks, a)?, shapes())
        }
        Op::Multiply => multiply(xs, masks)?,
        Op::Maximum | Op::Minimum => extreme(op == Op::Maximum, xs, masks)?,
    };
    Ok(Forward::one(out, mask).saving(training, || kept))
}

// out = Π x'_k with x'_k = x_k where kept (1 where masked); with masks on every input the
// output's masked steps are 0
fn multiply(xs: &[&Tensor], masks: &[Option<&Tensor>]) -> Result<(Tensor, Option<Tensor>, Kept)> {
    let ones = fill(xs[0].device(), xs[0].dims().to_vec(), 1.0)?;
    let factors: Vec<Tensor> = xs
        .iter()
        .zip(masks)
        .map(|(x, m)| match m {
            Some(m) => select_rows(m, x, &ones),
            None => Ok((*x).clone()),
        })
        .collect::<Result<_>>()?;
    let mut out = factors[0].clone();
    for f in &factors[1..] {
        out = binary(&out, f, BinaryOp::Mul)?;
    }
    let out_mask = or_all(masks)?;
    if let Some(m) = &out_mask {
        out = select_rows(m, &out, &affine(&ones, 0.0, 0.0)?)?;
    }
    let kept = Kept::Product {
        factors,
        masks: masks.iter().map(|m| m.cloned()).collect(),
        out_mask: out_mask.clone(),
    };
    Ok((out, out_mask, kept))
}

// Keras folds inputs pairwise: x = where(m_k, x_k, out); out = where(m_out, out, x);
// out = max(out, x) (ties keep the earlier input). `source` follows which input each value
// came from, so the gradient goes where TensorFlow's would.
fn extreme(
    max: bool,
    xs: &[&Tensor],
    masks: &[Option<&Tensor>],
) -> Result<(Tensor, Option<Tensor>, Kept)> {
    let device = xs[0].device();
    let dims = xs[0].dims().to_vec();
    let mut out = xs[0].clone();
    let mut source = fill(device, dims.clone(), 0.0)?;
    let mut out_mask = masks[0].cloned();
    for (k, (x, m)) in xs.iter().zip(masks).enumerate().skip(1) {
        let mut value = (*x).clone();
        let mut from = fill(device, dims.clone(), k as f32)?;
        if let Some(m) = m {
            value = select_rows(m, &value, &out)?;
            from = select_rows(m, &from, &source)?;
        }
        if let Some(om) = &out_mask {
            out = select_rows(om, &out, &value)?;
            source = select_rows(om, &source, &from)?;
        }
        out_mask = match (&out_mask, m) {
            (Some(a), Some(b)) => Some(binary(a, b, BinaryOp::Max)?),
            _ => None,
        };
        let (keep, pick) = if max {
            (BinaryOp::GreaterEqual, BinaryOp::Max)
        } else {
            (BinaryOp::LessEqual, BinaryOp::Min)
        };
        let earlier_wins = binary(&out, &value, keep)?;
        source = select_rows(&earlier_wins, &source, &from)?;
        out = binary(&out, &value, pick)?;
    }
    Ok((out, out_mask, Kept::Source(source)))
}

pub(super) fn backward(op: Op, saved: &Saved, dy: &Tensor, need_dx: &[bool]) -> Result<Backward> {
    let kept: &Kept = saved.get(op.kind())?;
    let n = need_dx.len();
    let grads: Vec<Option<Tensor>> = match (op, kept) {
        // dx_k = dy
        (Op::Add, _) => (0..n).map(|k| need_dx[k].then(|| dy.clone())).collect(),
        // da = dy, db = -dy
        (Op::Subtract, _) => vec![
            need_dx[0].then(|| dy.clone()),
            need_dx[1].then(|| affine(dy, -1.0, 0.0)).transpose()?,
        ],
        // dx_k = dy / n
        (Op::Average, _) => {
            let count = fill(dy.device(), dy.dims().to_vec(), n as f32)?;
            let g = binary(dy, &count, BinaryOp::Div)?;
            (0..n).map(|k| need_dx[k].then(|| g.clone())).collect()
        }
        // dx_k = the k-th block of dy along the axis
        (Op::Concatenate(axis), Kept::Shapes(shapes)) => {
            let a = axis_of(axis, dy.dims().len())?;
            let mut start = 0;
            let mut out = Vec::new();
            for (k, s) in shapes.iter().enumerate() {
                out.push(need_dx[k].then(|| slice(dy, a, start, s[a])).transpose()?);
                start += s[a];
            }
            out
        }
        // dx_k = dy' Π_{j≠k} x'_j (dy' = dy on kept steps), 0 where x_k was masked
        (
            Op::Multiply,
            Kept::Product {
                factors,
                masks,
                out_mask,
            },
        ) => {
            let zeros = fill(dy.device(), dy.dims().to_vec(), 0.0)?;
            let g = match out_mask {
                Some(m) => select_rows(m, dy, &zeros)?,
                None => dy.clone(),
            };
            let mut out = Vec::new();
            for (k, &need) in need_dx.iter().enumerate() {
                if !need {
                    out.push(None);
                    continue;
                }
                let mut d = g.clone();
                for (j, f) in factors.iter().enumerate() {
                    if j != k {
                        d = binary(&d, f, BinaryOp::Mul)?;
                    }
                }
                if let Some(m) = &masks[k] {
                    d = select_rows(m, &d, &zeros)?;
                }
                out.push(Some(d));
            }
            out
        }
        // dx_k = dy where the value came from input k
        (Op::Maximum | Op::Minimum, Kept::Source(source)) => {
            let mut out = Vec::new();
            for (k, &need) in need_dx.iter().enumerate() {
                out.push(
                    need.then(|| -> Result<Tensor> {
                        let at = fill(dy.device(), dy.dims().to_vec(), k as f32)?;
                        binary(dy, &binary(source, &at, BinaryOp::Equal)?, BinaryOp::Mul)
                    })
                    .transpose()?,
                );
            }
            out
        }
        _ => {
            return Err(Error::Config(format!(
                "{}: backward got another layer's saved values",
                op.kind()
            )));
        }
    };
    Ok(Backward {
        inputs: grads,
        params: Vec::new(),
    })
}
