//! LSTM, GRU, SimpleRNN and Bidirectional as ONNX's LSTM / GRU / RNN operators.
//! x: [B, T, F] -> X: [T, B, F]; Y: [T, dirs, B, U] -> [B, T, U]; Y_h, Y_c: [dirs, B, U].
//! Keras's gates (LSTM i, f, c, o; GRU z, r, h) are reordered to ONNX's (LSTM i, o, f, c; GRU
//! z, r, h). A mask becomes `sequence_lens`, the kept steps per sample: with post-padding the
//! state at the last kept step is then Keras's final state. ONNX outputs zeros past the length;
//! a lone layer's sequence carries its last output there (`zero_output_for_mask=False`), so
//! those steps are filled with the final state; Bidirectional sets `zero_output_for_mask` to
//! `return_sequences` in both directions (Keras's bidirectional.py), so its zeros stay.

use ndarray::ArrayD;

use super::builder::{Attr, Builder};
use super::layers::flat;
use super::proto::data_type;
use super::{Named, Sym};
use crate::error::Result;

/// One ONNX recurrent operator's kind.
struct Cell {
    op: &'static str,
    /// Keras's gate index for each of ONNX's gates, in ONNX's order.
    order: &'static [usize],
    states: usize,
}

const LSTM: Cell = Cell {
    op: "LSTM",
    order: &[0, 3, 1, 2],
    states: 2,
};
const GRU: Cell = Cell {
    op: "GRU",
    order: &[0, 1, 2],
    states: 1,
};
const RNN: Cell = Cell {
    op: "RNN",
    order: &[0],
    states: 1,
};

/// `a` (`[X, G·U]`, Keras's gates side by side) as ONNX's `[G·U, X]`, gates in `order`.
fn gates(a: &ArrayD<f32>, order: &[usize], units: usize) -> Vec<f32> {
    let rows = a.shape()[0];
    let mut out = Vec::with_capacity(a.len());
    for &g in order {
        for u in 0..units {
            out.extend((0..rows).map(|x| a[[x, g * units + u]]));
        }
    }
    out
}

/// A bias of Keras's gates (`[G·U]`) in ONNX's gate order.
fn bias_gates(v: &[f32], order: &[usize], units: usize) -> Vec<f32> {
    order
        .iter()
        .flat_map(|&g| v[g * units..(g + 1) * units].iter().copied())
        .collect()
}

/// One direction's W `[G·U, F]`, R `[G·U, U]` and B `[2·G·U]` (input then recurrent bias).
fn direction(
    l: &Named<'_>,
    cell: &Cell,
    units: usize,
    prefix: &str,
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let kernel = l.weight(&format!("{prefix}kernel"))?;
    let recurrent = l.weight(&format!("{prefix}recurrent_kernel"))?;
    let bias = l.weight(&format!("{prefix}bias"))?;
    let g = cell.order.len();
    let wanted = |a: &ArrayD<f32>, rows: Option<usize>| {
        a.ndim() == 2 && a.shape()[1] == g * units && rows.is_none_or(|r| a.shape()[0] == r)
    };
    if !wanted(kernel, None) || !wanted(recurrent, Some(units)) {
        return Err(l.unsupported("its kernels are not shaped as its units say"));
    }
    let bias = flat(bias);
    // GRU with reset_after keeps [2, 3U]: the input bias, then the recurrent bias (ONNX's
    // Rbh inside the reset with linear_before_reset = 1); other cells have one bias (ONNX Wb).
    let (wb, rb) = match bias.len() {
        n if n == g * units => (bias, vec![0.0; n]),
        n if n == 2 * g * units => (bias[..n / 2].to_vec(), bias[n / 2..].to_vec()),
        _ => return Err(l.unsupported("its bias is not shaped as its units say")),
    };
    let mut b = bias_gates(&wb, cell.order, units);
    b.extend(bias_gates(&rb, cell.order, units));
    Ok((
        gates(kernel, cell.order, units),
        gates(recurrent, cell.order, units),
        b,
    ))
}

/// An LSTM, GRU, SimpleRNN or Bidirectional over one, applied to `ins` (x, then initial
/// states if given), giving `outputs` values: the output(s), then the states if returned.
pub(super) fn export(
    b: &mut Builder,
    l: &Named<'_>,
    ins: &[Sym],
    outputs: usize,
) -> Result<Vec<Sym>> {
    let bidirectional = l.config.class_name == "Bidirectional";
    let c = if bidirectional {
        l.config.nested("layer")?
    } else {
        l.config.clone()
    };
    let cell = match c.class_name.as_str() {
        "LSTM" => LSTM,
        "GRU" => GRU,
        "SimpleRNN" => RNN,
        other => return Err(l.unsupported(format!("it wraps '{other}'"))),
    };
    let units = c.size("units")?;
    let x = &ins[0];
    let prefixes: &[&str] = if bidirectional {
        &["forward.", "backward."]
    } else {
        &[""]
    };
    let dirs = prefixes.len();
    let (mut w, mut r, mut bias) = (Vec::new(), Vec::new(), Vec::new());
    for p in prefixes {
        let (dw, dr, db) = direction(l, &cell, units, p)?;
        w.extend(dw);
        r.extend(dr);
        bias.extend(db);
    }
    let g = cell.order.len();
    let features = w.len() / (dirs * g * units);
    let w = b.f32s("W", &[dirs, g * units, features], &w);
    let r = b.f32s("R", &[dirs, g * units, units], &r);
    let bias = b.f32s("B", &[dirs, 2 * g * units], &bias);
    let xt = b.transpose(&x.name, &[1, 0, 2]);
    let lens = match &x.mask {
        Some(m) => {
            let axes = b.i64s(&[1], false);
            let n = b.node("ReduceSum", &[m, &axes], vec![Attr::Int("keepdims", 0)]);
            b.cast(&n, data_type::INT32)
        }
        None => String::new(),
    };
    // Initial states: Keras's [h_f, (c_f), h_b, (c_b)], each [B, U] -> ONNX [dirs, B, U].
    let given = &ins[1..];
    if !given.is_empty() && given.len() != dirs * cell.states {
        return Err(l.unsupported(format!(
            "it has {} initial states, ONNX export wants {}",
            given.len(),
            dirs * cell.states
        )));
    }
    let mut initial = vec![String::new(); cell.states];
    if !given.is_empty() {
        for (s, slot) in initial.iter_mut().enumerate() {
            let per_dir: Vec<String> = (0..dirs)
                .map(|d| b.unsqueeze(&given[d * cell.states + s].name, &[0]))
                .collect();
            let refs: Vec<&str> = per_dir.iter().map(String::as_str).collect();
            *slot = b.node("Concat", &refs, vec![Attr::Int("axis", 0)]);
        }
    }
    let mut op_ins: Vec<&str> = vec![&xt, &w, &r, &bias, &lens];
    op_ins.extend(initial.iter().map(String::as_str));
    let direction = if bidirectional {
        "bidirectional"
    } else {
        "forward"
    };
    let mut attrs = vec![
        Attr::Int("hidden_size", units as i64),
        Attr::Str("direction", direction),
    ];
    if cell.op == "GRU" {
        let after = c.flag("reset_after")?;
        attrs.push(Attr::Int("linear_before_reset", i64::from(after)));
    }
    let outs = b.node_n(cell.op, &op_ins, 1 + cell.states, attrs);
    // Each direction's final states, [B, U] each: h, then c for an LSTM.
    let states: Vec<Vec<String>> = (0..dirs)
        .map(|d| {
            (1..=cell.states)
                .map(|s| b.pick(&outs[s], d as i64, 0))
                .collect()
        })
        .collect();
    let sequences = c.flag("return_sequences")?;
    let per_dir: Vec<String> = (0..dirs)
        .map(|d| {
            if !sequences {
                return states[d][0].clone();
            }
            let y = b.pick(&outs[0], d as i64, 1);
            let y = b.transpose(&y, &[1, 0, 2]);
            match (&x.mask, bidirectional) {
                (Some(m), false) => {
                    let kept = b.unsqueeze(m, &[-1]);
                    let kept = b.cast(&kept, data_type::BOOL);
                    let carried = b.unsqueeze(&states[0][0], &[1]);
                    b.node("Where", &[&kept, &y, &carried], vec![])
                }
                _ => y,
            }
        })
        .collect();
    let mask = if sequences { x.mask.clone() } else { None };
    let sym = |name: String, mask: Option<String>| Sym {
        name,
        mask,
        dims: vec![],
    };
    let mut result: Vec<Sym> = if bidirectional {
        let (f, bk) = (&per_dir[0], &per_dir[1]);
        let merged = match l.config.get("merge_mode")?.as_str() {
            Some("concat") => vec![b.node("Concat", &[f, bk], vec![Attr::Int("axis", -1)])],
            Some("sum") => vec![b.node("Add", &[f, bk], vec![])],
            Some("mul") => vec![b.node("Mul", &[f, bk], vec![])],
            Some("ave") => {
                let sum = b.node("Add", &[f, bk], vec![]);
                let two = b.f32s("two", &[], &[2.0]);
                vec![b.node("Div", &[&sum, &two], vec![])]
            }
            None => per_dir.clone(),
            Some(other) => return Err(l.unsupported(format!("merge_mode '{other}'"))),
        };
        merged.into_iter().map(|n| sym(n, mask.clone())).collect()
    } else {
        vec![sym(per_dir[0].clone(), mask)]
    };
    if c.flag("return_state")? {
        result.extend(states.into_iter().flatten().map(|s| sym(s, None)));
    }
    if result.len() != outputs {
        return Err(l.unsupported(format!(
            "it gives {} values, the model reads {outputs}",
            result.len()
        )));
    }
    Ok(result)
}
