//! The merge layers, as Keras 3 defines them: `Add`, `Subtract`, `Multiply`, `Average`,
//! `Maximum`, `Minimum` (elementwise over inputs of one shape) and `Concatenate(axis)`.
//! Forward and backward side by side; masks as in `merge_masks.rs`. With masks on every
//! input, `Multiply` counts a masked value as 1 and zeroes the output's masked steps, and
//! `Maximum`/`Minimum` skip a masked value (take the other input's), as Keras does.

mod masks;
mod math;

use rand::rngs::StdRng;

use self::math::{Op, backward, forward, merge_shapes};
use super::{Backward, Dims, Forward, Layer, LayerConfig, MaskFlow, Saved};
use crate::device::Device;
use crate::error::Result;
use crate::tensor::Tensor;

macro_rules! merge_layer {
    ($(#[$doc:meta])* $name:ident, $op:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            _private: (),
        }

        impl $name {
            /// The layer; apply it to several nodes with
            /// [`CallMany::call_many`](crate::CallMany::call_many).
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl Layer for $name {
            fn kind(&self) -> &'static str {
                $op.kind()
            }

            fn config(&self) -> Result<LayerConfig> {
                super::config::plain(stringify!($name))
            }

            fn mask_flow(&self) -> MaskFlow {
                MaskFlow::Merges { concatenate: false }
            }

            fn build(&mut self, _: &Device, inputs: &[Dims], _: &mut StdRng) -> Result<Vec<Dims>> {
                Ok(vec![merge_shapes($op, inputs)?])
            }


            fn forward(
                &self,
                inputs: &[&Tensor],
                masks: &[Option<&Tensor>],
                training: bool,
            ) -> Result<Forward> {
                forward($op, inputs, masks, training)
            }

            fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
                backward($op, saved, &dy[0], need_dx)
            }
        }
    };
}

merge_layer!(
    /// Sums its inputs (Keras's `Add`): `[B, ...]` each, one shape -> `[B, ...]`.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let (a, b) = (Input::new([Some(2)]), Input::new([Some(2)]));
    /// let sum = Add::new().call_many(&[&a, &b]);
    /// let mut model = Model::new(&[&a, &b], &[&sum])?;
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// let x = ndarray::arr2(&[[1.0f32, 2.0]]);
    /// assert_eq!(model.predict_many(&[x.view().into_dyn(), x.view().into_dyn()])?[0], ndarray::arr2(&[[2.0f32, 4.0]]).into_dyn());
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    Add,
    Op::Add
);
merge_layer!(
    /// The first input minus the second (Keras's `Subtract`): exactly two inputs.
    Subtract,
    Op::Subtract
);
merge_layer!(
    /// The elementwise product of its inputs (Keras's `Multiply`).
    Multiply,
    Op::Multiply
);
merge_layer!(
    /// The elementwise mean of its inputs (Keras's `Average`).
    Average,
    Op::Average
);
merge_layer!(
    /// The elementwise maximum of its inputs (Keras's `Maximum`).
    Maximum,
    Op::Maximum
);
merge_layer!(
    /// The elementwise minimum of its inputs (Keras's `Minimum`).
    Minimum,
    Op::Minimum
);

/// Joins its inputs along an axis (Keras's `Concatenate(axis=-1)`): every other dim must
/// agree. The axis counts the batch as axis 0, as in Keras (`-1`: the features; `1`: the time
/// axis of `[B, T, F]` sequences).
///
/// ```
/// use wgfit::prelude::*;
/// let seq = Input::new([None, Some(3)]);
/// let other = Input::new([Some(2)]);
/// let h = Lstm::new(4).call(&Masking::new(0.0).call(&seq));
/// let joined = Concatenate::new().call_many(&[&h, &other]); // [B, 4 + 2]
/// let out = Dense::new(1).activation(Activation::Sigmoid).call(&joined);
/// let mut model = Model::new(&[&seq, &other], &[&out])?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::BinaryCrossentropy, &[])?;
/// assert_eq!(model.count_params(), (3 * 16 + 4 * 16 + 16) + (6 + 1));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Concatenate {
    axis: isize,
}

impl Default for Concatenate {
    fn default() -> Self {
        Concatenate { axis: -1 }
    }
}

impl Concatenate {
    /// Along the last axis.
    pub fn new() -> Self {
        Self::default()
    }

    /// Along `axis` (batch = 0; negative counts from the end).
    #[must_use]
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }
}

impl Layer for Concatenate {
    fn mask_flow(&self) -> MaskFlow {
        MaskFlow::Merges { concatenate: true }
    }

    fn kind(&self) -> &'static str {
        "concatenate"
    }

    fn config(&self) -> Result<LayerConfig> {
        Ok(LayerConfig::new("Concatenate").with("axis", self.axis))
    }

    fn build(&mut self, _: &Device, inputs: &[Dims], _: &mut StdRng) -> Result<Vec<Dims>> {
        Ok(vec![merge_shapes(Op::Concatenate(self.axis), inputs)?])
    }

    fn forward(
        &self,
        inputs: &[&Tensor],
        masks: &[Option<&Tensor>],
        training: bool,
    ) -> Result<Forward> {
        forward(Op::Concatenate(self.axis), inputs, masks, training)
    }

    fn backward(&self, saved: &Saved, dy: &[Tensor], need_dx: &[bool]) -> Result<Backward> {
        backward(Op::Concatenate(self.axis), saved, &dy[0], need_dx)
    }
}
