//! Building an ONNX graph: fresh value names, nodes with their attributes, and constants as
//! initializers. Every helper returns the name of the value it computes.

use super::proto::{AttributeProto, NodeProto, TensorProto, attribute_type, data_type};

/// The nodes and initializers of the graph being built, in the order they are added (each
/// node after the values it reads, as ONNX requires).
#[derive(Default)]
pub(super) struct Builder {
    pub(super) nodes: Vec<NodeProto>,
    pub(super) initializers: Vec<TensorProto>,
    count: usize,
}

/// A node attribute.
pub(super) enum Attr<'a> {
    Int(&'a str, i64),
    Ints(&'a str, &'a [i64]),
    Str(&'a str, &'a str),
    /// A one-element tensor (ConstantOfShape's `value`).
    Scalar(&'a str, TensorProto),
}

impl Attr<'_> {
    fn proto(self) -> AttributeProto {
        let named = |name: &str, r#type| AttributeProto {
            name: name.to_string(),
            r#type,
            ..Default::default()
        };
        match self {
            Attr::Int(n, i) => AttributeProto {
                i,
                ..named(n, attribute_type::INT)
            },
            Attr::Ints(n, ints) => AttributeProto {
                ints: ints.to_vec(),
                ..named(n, attribute_type::INTS)
            },
            Attr::Str(n, s) => AttributeProto {
                s: s.as_bytes().to_vec(),
                ..named(n, attribute_type::STRING)
            },
            Attr::Scalar(n, t) => AttributeProto {
                t: Some(t),
                ..named(n, attribute_type::TENSOR)
            },
        }
    }
}

/// A tensor of `f32` values shaped `dims`.
pub(super) fn f32_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type::FLOAT,
        name: name.to_string(),
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

impl Builder {
    /// A name no other value has, readable in a graph viewer (`{hint}_{n}`).
    pub(super) fn fresh(&mut self, hint: &str) -> String {
        self.count += 1;
        format!("{hint}_{}", self.count)
    }

    /// `op(inputs)` with `outputs` results ("" for an optional output left out).
    pub(super) fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<Attr<'_>>,
    ) -> Vec<String> {
        let outs: Vec<String> = (0..outputs).map(|_| self.fresh(op)).collect();
        let name = self.fresh(&format!("{op}_node"));
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outs.clone(),
            name,
            op_type: op.to_string(),
            attribute: attrs.into_iter().map(Attr::proto).collect(),
        });
        outs
    }

    /// `op(inputs)`, one result.
    pub(super) fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<Attr<'_>>) -> String {
        self.node_n(op, inputs, 1, attrs).remove(0)
    }

    /// An `f32` constant shaped `dims`.
    pub(super) fn f32s(&mut self, hint: &str, dims: &[usize], values: &[f32]) -> String {
        let name = self.fresh(hint);
        self.initializers.push(f32_tensor(&name, dims, values));
        name
    }

    /// An `i64` constant: a 1-D list, or a scalar when `scalar` (Gather's index).
    pub(super) fn i64s(&mut self, values: &[i64], scalar: bool) -> String {
        let name = self.fresh("const");
        let dims = if scalar {
            vec![]
        } else {
            vec![values.len() as i64]
        };
        self.initializers.push(TensorProto {
            dims,
            data_type: data_type::INT64,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        });
        name
    }

    /// `x` with size-1 axes inserted at `axes`.
    pub(super) fn unsqueeze(&mut self, x: &str, axes: &[i64]) -> String {
        let axes = self.i64s(axes, false);
        self.node("Unsqueeze", &[x, &axes], vec![])
    }

    /// `x` with its axes permuted.
    pub(super) fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], vec![Attr::Ints("perm", perm)])
    }

    /// Index `i` of axis `axis` of `x`, that axis removed.
    pub(super) fn pick(&mut self, x: &str, i: i64, axis: i64) -> String {
        let index = self.i64s(&[i], true);
        self.node("Gather", &[x, &index], vec![Attr::Int("axis", axis)])
    }

    /// `x` cast to ONNX data type `to`.
    pub(super) fn cast(&mut self, x: &str, to: i32) -> String {
        self.node("Cast", &[x], vec![Attr::Int("to", i64::from(to))])
    }

    /// The elementwise `op` folded over `xs` (Add, Mul, Max, ...), left to right.
    pub(super) fn fold(&mut self, op: &str, xs: &[String]) -> String {
        let mut acc = xs[0].clone();
        for x in &xs[1..] {
            acc = self.node(op, &[&acc, x], vec![]);
        }
        acc
    }
}
