//! `Bidirectional(layer)`: Keras's wrapper running a recurrent layer forward and a copy of it
//! (its own weights) over the time-reversed input and mask, then merging the two. Forward and
//! backward side by side.
//!
//! As Keras 3: the backward copy runs with `go_backwards`, which reverses the input and the
//! mask along time and runs the loop, so over a padded batch it skips the padding whichever
//! side it is on; with `return_sequences` its outputs are flipped back into input order and
//! masked steps output 0 in both directions (Keras forces `zero_output_for_mask` there).
//! States (`return_state`, `initial_state`) through the wrapper: `bidirectional/states.rs`.

pub(super) mod config;
mod names;
mod states;

use names::role_in;

use rand::rngs::StdRng;

use super::{Backward, Dims, Forward, Layer, LayerConfig, MaskFlow, Param, Saved};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::ops::elementwise::{BinaryOp, affine, binary};
use crate::ops::masking::masking_backward;
use crate::ops::merge::{concat, slice};
use crate::ops::reverse_time::reverse_time;
use crate::tensor::Tensor;

/// A recurrent layer a [`Bidirectional`] can wrap: cloned before it is built, once per
/// direction, so each direction gets its own weights. The wrapper reverses the backward
/// direction's input and mask itself, so a layer only says what it outputs.
///
/// ```
/// use wgfit::layers::{Lstm, Recurrent};
/// assert!(!Lstm::new(4).returns_sequences());
/// assert!(Lstm::new(4).return_sequences(true).returns_sequences());
/// ```
pub trait Recurrent: Layer + Clone + 'static {
    /// Whether it outputs every step `[B, T, units]` (Keras's `return_sequences`) rather
    /// than the last state `[B, units]`.
    fn returns_sequences(&self) -> bool;
}

/// How a [`Bidirectional`] layer combines its directions' outputs (Keras's `merge_mode`).
///
/// ```
/// use wgfit::prelude::*;
/// let x = ndarray::Array3::<f32>::ones((2, 5, 3));
/// for (merge, width) in [(MergeMode::Concat, 8), (MergeMode::Sum, 4), (MergeMode::Ave, 4)] {
///     let bidi = Bidirectional::new(Lstm::new(4).return_sequences(true)).merge_mode(merge);
///     let mut model = Sequential::new().add(bidi.input_shape([None, Some(3)]));
///     model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
///     assert_eq!(model.predict(&x)?.shape(), &[2, 5, width]);
/// }
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMode {
    /// Side by side along the last axis: `[..., 2·units]` (Keras's default, `"concat"`).
    #[default]
    Concat,
    /// Elementwise sum (`"sum"`).
    Sum,
    /// Elementwise product (`"mul"`).
    Mul,
    /// Elementwise mean (`"ave"`).
    Ave,
    /// Not combined: two outputs, forward then backward (Keras's `merge_mode=None`); reach
    /// the second with [`Node::output`](crate::Node::output).
    None,
}

/// Runs a recurrent layer over the sequence in both directions, as Keras's
/// `Bidirectional(layer, merge_mode=...)`: `x: [B, T, F]` -> the merged outputs of the
/// forward layer and of a copy of it run over the reversed sequence.
///
/// Masks as Keras's: the backward direction reads the input and its mask reversed, so over
/// a post- or pre-padded batch both directions skip the padding; with `return_sequences`
/// the backward outputs are flipped back into input order, masked steps output 0 and the
/// mask passes on. Weights as Keras's `layer.weights`: the forward layer's, then the backward
/// layer's, named `forward.{role}` and `backward.{role}` (`layers.0.bidirectional.forward.kernel`
/// in files).
///
/// States as Keras's: over a layer with `return_state`, the outputs are the merged output (two
/// with [`MergeMode::None`]), then the forward layer's states, then the backward layer's
/// (`[out, h_f, c_f, h_b, c_b]` for an LSTM: each direction's state at its last unmasked
/// step, the backward one's at the first unmasked step in input order). Called on
/// `[x, s_1, ..., s_2n]` (`call_many`, Keras's `initial_state`), the first n states start
/// the forward layer and the rest the backward one; their gradients flow back.
///
/// ```
/// use wgfit::prelude::*;
/// let source = Input::new([None, Some(3)]);
/// let encoded = Bidirectional::new(Lstm::new(4).return_state(true)).call(&source);
/// let [h_f, c_f, h_b, c_b] = [1, 2, 3, 4].map(|k| encoded.output(k).unwrap());
/// let h = Concatenate::new().call_many(&[&h_f, &h_b]);
/// let c = Concatenate::new().call_many(&[&c_f, &c_b]);
/// let target = Input::new([None, Some(2)]);
/// let decoded = Lstm::new(8).return_sequences(true).call_many(&[&target, &h, &c]);
/// let mut model = Model::new(&[&source, &target], &Dense::new(2).call(&decoded))?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// let (x, t) = (ndarray::Array3::<f32>::ones((2, 5, 3)), ndarray::Array3::<f32>::ones((2, 4, 2)));
/// let y = model.predict_many(&[x.view().into_dyn(), t.view().into_dyn()])?;
/// assert_eq!(y[0].shape(), &[2, 4, 2]);
/// # Ok::<(), wgfit::Error>(())
/// ```
///
/// ```
/// use wgfit::prelude::*;
/// let x = ndarray::Array3::<f32>::ones((2, 5, 3)); // 2 sequences, 5 steps, 3 features
/// let mut model = Sequential::new()
///     .add(Bidirectional::new(Lstm::new(4)).input_shape([None, Some(3)]))
///     .add(Dense::new(1));
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::MeanSquaredError, &[])?;
/// assert_eq!(model.predict(&x)?.shape(), &[2, 1]);
/// assert_eq!(model.count_params(), 2 * (3 * 16 + 4 * 16 + 16) + (8 + 1));
/// let names: Vec<String> = model.get_weights()?.into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names[0], "layers.0.bidirectional.forward.kernel");
/// assert_eq!(names[3], "layers.0.bidirectional.backward.kernel");
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bidirectional<L> {
    layer: L,
    merge: MergeMode,
    input: Option<Dims>,
    directions: Option<(L, L)>,
    // A loaded model's backward direction (its own dropout stream), used once at build
    backward: Option<L>,
    // The states each direction outputs (the wrapped layer's `return_state`: 2 for an LSTM's
    // h and c, 1 otherwise; 0 without), known once built.
    states: usize,
}

struct Cache {
    forward: Saved,
    backward: Saved,
    mask: Option<Tensor>,
    // Each direction's output as merged (the backward one in input order), for Mul's backward.
    products: Option<(Tensor, Tensor)>,
    // Each direction's width (the last dim of its output), where Concat's backward splits dy.
    units: usize,
    // Initial states given to each direction (0: called on x alone); backward returns theirs.
    init: usize,
}

impl<L: Recurrent> Bidirectional<L> {
    /// Wraps `layer` (unbuilt: each direction is a fresh copy), merging by concatenation.
    pub fn new(layer: L) -> Self {
        Bidirectional {
            layer,
            merge: MergeMode::Concat,
            input: None,
            directions: None,
            backward: None,
            states: 0,
        }
    }

    /// How the directions' outputs are combined (Keras's `merge_mode`).
    #[must_use]
    pub fn merge_mode(mut self, merge: MergeMode) -> Self {
        self.merge = merge;
        self
    }

    /// The per-sample input shape when this is the first layer (`[None, Some(F)]`).
    #[must_use]
    pub fn input_shape(mut self, dims: impl Into<Dims>) -> Self {
        self.input = Some(dims.into());
        self
    }

    fn directions(&self) -> Result<&(L, L)> {
        self.directions.as_ref().ok_or_else(|| {
            Error::Config("Bidirectional used before it was built (compile the model first)".into())
        })
    }
}

/// Zero gradients for `layer`'s weights and no input gradient: a direction whose output no
/// loss reached (one of `MergeMode::None`'s outputs left unused).
fn no_gradient(layer: &dyn Layer) -> Result<Backward> {
    let params = layer
        .params()
        .iter()
        .map(|p| Tensor::zeros(p.value.device(), p.value.dims().to_vec()))
        .collect::<Result<_>>()?;
    Ok(Backward {
        inputs: vec![None],
        params,
    })
}

impl<L: Recurrent> Layer for Bidirectional<L> {
    fn kind(&self) -> &'static str {
        "bidirectional"
    }

    fn config(&self) -> Result<LayerConfig> {
        self.to_config()
    }

    fn declared_input(&self) -> Option<Dims> {
        self.input.clone().or_else(|| self.layer.declared_input())
    }

    fn input_template(&self, sample: &[usize]) -> Dims {
        self.layer.input_template(sample)
    }

    fn mask_flow(&self) -> MaskFlow {
        self.layer.mask_flow()
    }

    // Each direction is a fresh copy of the layer, built on the same input (forward first, as
    // Keras draws them) and its half of the initial states; out: [T, 2U] / [2U] (concat),
    // [T, U] / [U] (the others, each output), then each direction's states [U]
    fn build(&mut self, device: &Device, inputs: &[Dims], rng: &mut StdRng) -> Result<Vec<Dims>> {
        let kind = self.layer.kind();
        let (x, (init_f, init_b)) = states::split(kind, inputs)?;
        let mut forward = self.layer.clone();
        let mut backward = self.backward.take().unwrap_or_else(|| self.layer.clone());
        let out = forward
            .build(device, &states::with(x, init_f), rng)
            .map_err(|e| states::in_context(kind, init_f.len(), e))?;
        backward
            .build(device, &states::with(x, init_b), rng)
            .map_err(|e| states::in_context(kind, init_b.len(), e))?;
        for (direction, layer) in [("forward", &mut forward), ("backward", &mut backward)] {
            for p in layer.params_mut() {
                p.role = role_in(direction, p.role);
            }
        }
        self.directions = Some((forward, backward));
        let Some((mut dims, state_dims)) = out.split_first().map(|(y, s)| (y.clone(), s)) else {
            return Err(Error::Config(format!(
                "Bidirectional: {kind} gave no output"
            )));
        };
        self.states = state_dims.len();
        let mut outs = match self.merge {
            MergeMode::Concat => {
                if let Some(Some(last)) = dims.last_mut() {
                    *last *= 2;
                }
                vec![dims]
            }
            MergeMode::None => vec![dims.clone(), dims],
            _ => vec![dims],
        };
        outs.extend(state_dims.iter().chain(state_dims).cloned());
        Ok(outs)
    }

    fn params(&self) -> Vec<&Param> {
        self.directions
            .iter()
            .flat_map(|(f, b)| f.params().into_iter().chain(b.params()))
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.directions
            .iter_mut()
            .flat_map(|(f, b)| f.params_mut().into_iter().chain(b.params_mut()))
            .collect()
    }

    // x: [B, T, F], mask: [B, T]; y_f = forward(x, mask); y_b = backward(flip(x), flip(mask)),
    // flipped back with return_sequences (and both zeroed at masked steps); out = merge(y_f, y_b),
    // then each direction's states [B, U] (forward's, backward's)
    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        let (x, (init_f, init_b)) = states::split(self.layer.kind(), inputs)?;
        let mask = masks.first().copied().flatten();
        let (fwd, bwd) = self.directions()?;
        let in_masks = vec![None; init_f.len()];
        let f = fwd.forward(
            &states::with(x, init_f),
            &states::with(&mask, &in_masks),
            training,
        )?;
        let (x_rev, mask_rev) = (reverse_time(x)?, mask.map(reverse_time).transpose()?);
        let b_masks = states::with(&mask_rev.as_ref(), &in_masks);
        let b = bwd.forward(&states::with(&&x_rev, init_b), &b_masks, training)?;
        let ((mut y_f, states_f), (mut y_b, states_b)) =
            (states::first(f.outputs)?, states::first(b.outputs)?);
        let sequences = self.layer.returns_sequences();
        if sequences {
            y_b = reverse_time(&y_b)?;
            if let Some(m) = mask {
                // zero_output_for_mask: y * mask over the features
                y_f = masking_backward(&y_f, m)?;
                y_b = masking_backward(&y_b, m)?;
            }
        }
        let out_mask = if sequences { mask.cloned() } else { None };
        let last = y_f.dims().len() - 1;
        let mut outputs = match self.merge {
            MergeMode::Concat => vec![concat(&[&y_f, &y_b], last)?],
            MergeMode::Sum => vec![binary(&y_f, &y_b, BinaryOp::Add)?],
            MergeMode::Mul => vec![binary(&y_f, &y_b, BinaryOp::Mul)?],
            MergeMode::Ave => vec![affine(&binary(&y_f, &y_b, BinaryOp::Add)?, 0.5, 0.0)?],
            MergeMode::None => vec![y_f.clone(), y_b.clone()],
        };
        let mut masks = vec![out_mask; outputs.len()];
        // states carry no mask (Keras's compute_mask)
        masks.extend(states_f.iter().chain(&states_b).map(|_| None));
        outputs.extend(states_f.into_iter().chain(states_b));
        let units = y_f.dims()[last];
        Ok(Forward {
            outputs,
            masks,
            saved: Saved(None),
        }
        .saving(training, || Cache {
            forward: f.saved,
            backward: b.saved,
            mask: mask.cloned(),
            products: (self.merge == MergeMode::Mul).then_some((y_f, y_b)),
            units,
            init: init_f.len(),
        }))
    }

    // dy_f, dy_b from the merge (concat: the halves; sum: dy; ave: dy/2; mul: dy·y_b, dy·y_f);
    // masked and flipped back as in forward, each direction's state gradients after its own;
    // dx = dx_f + flip(dx_b); initial states: forward's, backward's; weights: forward's, backward's
    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        let cache: &Cache = saved.get("bidirectional")?;
        let (fwd, bwd) = self.directions()?;
        let merged = if self.merge == MergeMode::None { 2 } else { 1 };
        let (dy, (ds_f, ds_b)) = states::split_grads(dy, merged, self.states)?;
        let (dy_f, dy_b) = match (self.merge, dy) {
            (MergeMode::Concat, [d]) => {
                let (last, u) = (d.dims().len() - 1, cache.units);
                (Some(slice(d, last, 0, u)?), Some(slice(d, last, u, u)?))
            }
            (MergeMode::Sum, [d]) => (Some(d.clone()), Some(d.clone())),
            (MergeMode::Ave, [d]) => {
                let half = affine(d, 0.5, 0.0)?;
                (Some(half.clone()), Some(half))
            }
            (MergeMode::Mul, [d]) => {
                let (y_f, y_b) = cache.products.as_ref().ok_or_else(|| {
                    Error::Config("bidirectional: backward of another merge mode's forward".into())
                })?;
                (
                    Some(binary(d, y_b, BinaryOp::Mul)?),
                    Some(binary(d, y_f, BinaryOp::Mul)?),
                )
            }
            (MergeMode::None, [d_f]) => (Some(d_f.clone()), None),
            (MergeMode::None, [d_f, d_b]) => (Some(d_f.clone()), Some(d_b.clone())),
            (merge, _) => {
                return Err(Error::Config(format!(
                    "Bidirectional ({merge:?}) backward: got {} output gradients",
                    dy.len() + 2 * self.states
                )));
            }
        };
        let sequences = self.layer.returns_sequences();
        let to_layer = |d: Tensor, flip: bool, ds: &[Tensor]| -> Result<Vec<Tensor>> {
            let d = match (&cache.mask, sequences) {
                (Some(m), true) => masking_backward(&d, m)?,
                _ => d,
            };
            let d = if flip && sequences {
                reverse_time(&d)?
            } else {
                d
            };
            Ok(states::with(&d, ds))
        };
        let (need_f, need_b) = states::split_need(need_dx, cache.init);
        let back_f = match dy_f {
            Some(d) => fwd.backward(&cache.forward, &to_layer(d, false, ds_f)?, &need_f)?,
            None => no_gradient(fwd)?,
        };
        let back_b = match dy_b {
            Some(d) => bwd.backward(&cache.backward, &to_layer(d, true, ds_b)?, &need_b)?,
            None => no_gradient(bwd)?,
        };
        let (dx_f, dinit_f) = states::input_grads(back_f.inputs, cache.init);
        let (dx_b, dinit_b) = states::input_grads(back_b.inputs, cache.init);
        let dx_b = dx_b.map(|d| reverse_time(&d)).transpose()?;
        let dx = match (dx_f, dx_b) {
            (Some(a), Some(b)) => Some(binary(&a, &b, BinaryOp::Add)?),
            (a, b) => a.or(b),
        };
        Ok(Backward {
            inputs: states::with(&dx, &[dinit_f, dinit_b].concat()),
            params: back_f.params.into_iter().chain(back_b.params).collect(),
        })
    }
}
