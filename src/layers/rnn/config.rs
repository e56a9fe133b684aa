//! An [`Rnn`] layer's config (Keras's `LSTM`, `GRU`, `SimpleRNN` `get_config()` keys) and the
//! layer made back from one.

use std::any::Any;

use super::{Cell, Rnn};
use crate::error::{Error, Result};
use crate::layers::LayerConfig;
use crate::layers::dropout::MaskStream;
use crate::layers::gru::GruCell;

impl<C: Cell> Rnn<C> {
    pub(super) fn to_config(&self) -> LayerConfig {
        let mut c = LayerConfig::new(C::NAME)
            .with("units", self.units)
            .with("activation", "tanh")
            .with("use_bias", true)
            .with("return_sequences", self.return_sequences)
            .with("return_state", self.return_state)
            .with("go_backwards", false)
            .with("dropout", self.rates.input)
            .with("recurrent_dropout", self.rates.recurrent);
        if C::GATES > 1 {
            c = c.with("recurrent_activation", "sigmoid");
        }
        if let Some(gru) = (&self.cell as &dyn Any).downcast_ref::<GruCell>() {
            c = c.with("reset_after", gru.resets_after());
        }
        self.stream.config(c)
    }

    /// The layer a config describes. Keras options wgfit fixes (the activations, a bias, the
    /// forward direction) are errors naming the option when they say otherwise.
    pub(crate) fn from_config(c: &LayerConfig) -> Result<Self> {
        let fixed = |key: &str, wanted: serde_json::Value| match c.config.get(key) {
            Some(v) if *v != wanted => Err(Error::Config(format!(
                "{} config: {key} = {v} is not supported (wgfit's {} has {key} = {wanted})",
                C::NAME,
                C::NAME
            ))),
            _ => Ok(()),
        };
        fixed("activation", "tanh".into())?;
        fixed("use_bias", true.into())?;
        fixed("go_backwards", false.into())?;
        fixed("stateful", false.into())?;
        if C::GATES > 1 {
            fixed("recurrent_activation", "sigmoid".into())?;
        }
        let mut layer = Rnn::<C>::new(c.size("units")?)
            .return_sequences(c.flag("return_sequences")?)
            .return_state(c.flag("return_state")?)
            .dropout(c.float("dropout")?)
            .recurrent_dropout(c.float("recurrent_dropout")?);
        layer.stream = MaskStream::from_config(c)?;
        if let Some(gru) = (&mut layer.cell as &mut dyn Any).downcast_mut::<GruCell>() {
            *gru = GruCell::new(c.flag("reset_after")?);
        }
        Ok(layer)
    }
}
