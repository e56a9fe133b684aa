//! `gradients`: a training step's weight gradients, by weight name, without the update.

use ndarray::ArrayD;

use super::arrays::Arrays;
use super::functional::Model;
use super::pass::{backward, forward};
use super::step::losses;
use super::sums::Sums;
use crate::error::Result;

impl Model {
    /// The gradient of the batch's loss (the weighted total) w.r.t. every weight, by weight
    /// name, computed as a training step would but without updating anything (for checks
    /// and parity tests; as `tape.gradient(loss, model.trainable_weights)` in Keras). A
    /// weight no loss depends on is left out.
    ///
    /// ```
    /// use wgfit::prelude::*;
    /// let mut model = Sequential::new().add(Dense::new(1).input_shape([1]));
    /// model.compile(&Device::cpu(), Optimizer::sgd(), Loss::MeanSquaredError, &[])?;
    /// model.set_weights(&[ndarray::arr2(&[[0.0f32]]).into_dyn(), ndarray::arr1(&[0.0f32]).into_dyn()])?;
    /// // loss = (w·x + b - y)², x = 1, y = 3: d/dw = d/db = 2 (0 - 3) = -6
    /// let grads = model.gradients(&ndarray::arr2(&[[1.0f32]]), &ndarray::arr1(&[3.0f32]))?;
    /// assert_eq!(grads[0].0, "layers.0.dense.kernel");
    /// assert_eq!(grads[0].1.iter().copied().collect::<Vec<_>>(), vec![-6.0]);
    /// assert_eq!(grads[1].1.iter().copied().collect::<Vec<_>>(), vec![-6.0]);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn gradients<'x, 'y>(
        &mut self,
        x: impl Into<Arrays<'x>>,
        y: impl Into<Arrays<'y>>,
    ) -> Result<Vec<(String, ArrayD<f32>)>> {
        let batch = self.one_batch(&x.into(), &y.into())?;
        let (graph, compiled) = self.parts()?;
        let sums = Sums::new(&compiled.device, &compiled.heads)?;
        let pass = forward(graph, &batch.inputs, true)?;
        let (grads, logit_grads) = losses(graph, compiled, &pass, &batch, &sums, true)?;
        let built = compiled.built.as_ref().expect("one_batch built the model");
        let weights = backward(graph, built, &pass, grads, logit_grads)?;
        let mut out = Vec::new();
        for (i, (slot, grads)) in self.graph.layers.iter().zip(weights).enumerate() {
            let Some(grads) = grads else { continue };
            let kind = slot.layer.kind();
            for (p, g) in slot.layer.params().into_iter().zip(grads) {
                out.push((
                    format!("layers.{i}.{kind}.{}", p.role),
                    g.to_array_blocking()?,
                ));
            }
        }
        Ok(out)
    }
}
