//! Each layer kind as ONNX nodes, masks carried beside values as wgfit carries them (Dense,
//! Dropout and Normalization pass a mask on; Masking and Embedding make one; the merges join
//! theirs; Flatten drops it). Recurrent layers are in `recurrent`.

use ndarray::ArrayD;

use super::builder::{Attr, Builder, f32_tensor};
use super::proto::data_type;
use super::{Named, Sym};
use crate::error::Result;

/// Layer `l` applied to `ins`, giving `outputs` values (their dims are the model's).
pub(super) fn export(
    b: &mut Builder,
    l: &Named<'_>,
    ins: &[Sym],
    outputs: usize,
) -> Result<Vec<Sym>> {
    let c = l.config;
    let x = &ins[0];
    let one = |name: String, mask: Option<String>| {
        Ok(vec![Sym {
            name,
            mask,
            dims: vec![],
        }])
    };
    match c.class_name.as_str() {
        "Dense" => {
            let y = matmul(b, l, &x.name, l.weight("kernel")?)?;
            let y = if c.flag("use_bias")? {
                let bias = l.weight("bias")?;
                let bias = b.f32s("bias", bias.shape(), &flat(bias));
                b.node("Add", &[&y, &bias], vec![])
            } else {
                y
            };
            let act = c.string("activation")?;
            if !["linear", "relu", "sigmoid", "tanh", "softmax"].contains(&act) {
                return Err(l.unsupported(format!("activation '{act}'")));
            }
            one(activation(b, &y, act), x.mask.clone())
        }
        "Dropout" | "SpatialDropout1D" => one(x.name.clone(), x.mask.clone()),
        "Flatten" => one(
            b.node("Flatten", &[&x.name], vec![Attr::Int("axis", 1)]),
            None,
        ),
        // mask = any(x != mask_value) over the features; x * mask zeroes masked steps.
        "Masking" => {
            let value = b.f32s("mask_value", &[], &[c.float("mask_value")?]);
            let same = b.node("Equal", &[&x.name, &value], vec![]);
            let kept = b.node("Not", &[&same], vec![]);
            let kept = b.cast(&kept, data_type::FLOAT);
            let mask = b.node(
                "ReduceMax",
                &[&kept],
                vec![Attr::Ints("axes", &[-1]), Attr::Int("keepdims", 0)],
            );
            let m = b.unsqueeze(&mask, &[-1]);
            one(b.node("Mul", &[&x.name, &m], vec![]), Some(mask))
        }
        "Embedding" => {
            let table = l.weight("embeddings")?;
            let table = b.f32s("embeddings", table.shape(), &flat(table));
            let y = b.node("Gather", &[&table, &x.name], vec![Attr::Int("axis", 0)]);
            let mask = if c.flag("mask_zero")? {
                let zero = b.i64s(&[0], true);
                let same = b.node("Equal", &[&x.name, &zero], vec![]);
                let kept = b.node("Not", &[&same], vec![]);
                Some(b.cast(&kept, data_type::FLOAT))
            } else {
                None
            };
            one(y, mask)
        }
        // (x - mean) / max(sqrt(variance), 1e-7), or mean + x * that with invert.
        "Normalization" => {
            let mean = l.weight("mean")?;
            let scale: Vec<f32> = (l.weight("variance")?.iter())
                .map(|v| v.sqrt().max(1e-7))
                .collect();
            let dims = mean.shape().to_vec();
            let m = b.f32s("mean", &dims, &flat(mean));
            let s = b.f32s("scale", &dims, &scale);
            let y = if c.flag("invert")? {
                let y = b.node("Mul", &[&x.name, &s], vec![]);
                b.node("Add", &[&m, &y], vec![])
            } else {
                let y = b.node("Sub", &[&x.name, &m], vec![]);
                b.node("Div", &[&y, &s], vec![])
            };
            one(y, x.mask.clone())
        }
        "Add" | "Subtract" | "Multiply" | "Average" | "Maximum" | "Minimum" => {
            let names: Vec<String> = ins.iter().map(|s| s.name.clone()).collect();
            let y = match c.class_name.as_str() {
                "Add" => b.fold("Add", &names),
                "Subtract" => b.node("Sub", &[&names[0], &names[1]], vec![]),
                "Multiply" => b.fold("Mul", &names),
                "Maximum" => b.fold("Max", &names),
                "Minimum" => b.fold("Min", &names),
                _ => {
                    let sum = b.fold("Add", &names);
                    let n = b.f32s("count", &[], &[names.len() as f32]);
                    b.node("Div", &[&sum, &n], vec![])
                }
            };
            one(y, mask_or(b, ins))
        }
        "Concatenate" => {
            let axis = c.int_or_null("axis")?.unwrap_or(-1);
            let names: Vec<&str> = ins.iter().map(|s| s.name.as_str()).collect();
            let y = b.node("Concat", &names, vec![Attr::Int("axis", axis)]);
            let rank = x.dims.len() as i64 + 1;
            let axis = if axis < 0 { axis + rank } else { axis };
            let mask = if ins.iter().all(|s| s.mask.is_none()) || axis == rank - 1 {
                mask_or(b, ins)
            } else {
                Some(mask_joined(b, ins, axis))
            };
            one(y, mask)
        }
        "LSTM" | "GRU" | "SimpleRNN" | "Bidirectional" => {
            super::recurrent::export(b, l, ins, outputs)
        }
        other => Err(l.unsupported(format!("ONNX export does not know the class '{other}'"))),
    }
}

/// The elementwise merges' mask, as wgfit's: the OR of the inputs' masks when every input
/// has one, else none.
fn mask_or(b: &mut Builder, ins: &[Sym]) -> Option<String> {
    let masks: Option<Vec<String>> = ins.iter().map(|s| s.mask.clone()).collect();
    masks.map(|m| b.fold("Max", &m))
}

/// Concatenate's mask along a non-feature axis (time): the masks joined, an unmasked input
/// counting as all kept (ones shaped like its `[B, T]`).
fn mask_joined(b: &mut Builder, ins: &[Sym], axis: i64) -> String {
    let masks: Vec<String> = ins
        .iter()
        .map(|s| match &s.mask {
            Some(m) => m.clone(),
            None => {
                let shape = b.node("Shape", &[&s.name], vec![]);
                let (start, end) = (b.i64s(&[0], false), b.i64s(&[2], false));
                let bt = b.node("Slice", &[&shape, &start, &end], vec![]);
                let one = f32_tensor("one", &[1], &[1.0]);
                b.node("ConstantOfShape", &[&bt], vec![Attr::Scalar("value", one)])
            }
        })
        .collect();
    let refs: Vec<&str> = masks.iter().map(String::as_str).collect();
    b.node("Concat", &refs, vec![Attr::Int("axis", axis)])
}

/// `x @ kernel` (`[..., F] x [F, U]`).
fn matmul(b: &mut Builder, l: &Named<'_>, x: &str, kernel: &ArrayD<f32>) -> Result<String> {
    if kernel.ndim() != 2 {
        return Err(l.unsupported(format!("its kernel is {:?}, not 2-D", kernel.shape())));
    }
    let w = b.f32s("kernel", kernel.shape(), &flat(kernel));
    Ok(b.node("MatMul", &[x, &w], vec![]))
}

/// `act(x)` for a Keras activation name ("linear" adds nothing).
pub(super) fn activation(b: &mut Builder, x: &str, act: &str) -> String {
    match act {
        "relu" => b.node("Relu", &[x], vec![]),
        "sigmoid" => b.node("Sigmoid", &[x], vec![]),
        "tanh" => b.node("Tanh", &[x], vec![]),
        "softmax" => b.node("Softmax", &[x], vec![Attr::Int("axis", -1)]),
        _ => x.to_string(),
    }
}

/// An array's values in row-major order.
pub(super) fn flat(a: &ArrayD<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}
