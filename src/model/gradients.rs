//! `gradients`: a training step's weight gradients, by weight name, without the update.

use ndarray::{ArrayBase, ArrayD, Data, Dimension};

use super::sequential::Sequential;
use super::step::{Sums, forward_backward};
use super::train::one_batch;
use crate::error::{Error, Result};

impl Sequential {
    /// The gradient of the batch's mean loss w.r.t. every weight, by weight name, computed
    /// as a training step would but without updating anything (for checks and parity tests;
    /// as `tape.gradient(loss, model.trainable_weights)` in Keras).
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
    pub fn gradients<S1, D1, S2, D2>(
        &mut self,
        x: &ArrayBase<S1, D1>,
        y: &ArrayBase<S2, D2>,
    ) -> Result<Vec<(String, ArrayD<f32>)>>
    where
        S1: Data<Elem = f32>,
        D1: Dimension,
        S2: Data<Elem = f32>,
        D2: Dimension,
    {
        let (xb, yb, _) = one_batch(self, x.view().into_dyn(), y.view().into_dyn())?;
        let (layers, compiled) = self.parts()?;
        let sums = Sums::new(&compiled.device, compiled.metrics.len())?;
        forward_backward(layers, compiled, &xb, &yb, &sums, true)?;
        let mut out = Vec::new();
        for (i, layer) in layers.iter_mut().enumerate() {
            let kind = layer.kind();
            for p in layer.params_mut() {
                let g = p
                    .grad
                    .take()
                    .ok_or_else(|| Error::Config(format!("no gradient for a {} weight", p.role)))?;
                out.push((
                    format!("layers.{i}.{kind}.{}", p.role),
                    g.to_array_blocking()?,
                ));
            }
        }
        Ok(out)
    }
}
