//! A [`Bidirectional`] layer's config, as Keras 3's: `layer` (the forward direction),
//! `backward_layer` (its copy, `go_backwards: true`) and `merge_mode`; and the layer made
//! back from one.

use serde_json::Value;

use super::{Bidirectional, MergeMode, Recurrent};
use crate::error::{Error, Result};
use crate::layers::gru::GruCell;
use crate::layers::lstm::LstmCell;
use crate::layers::rnn::{Cell, Rnn};
use crate::layers::simple_rnn::SimpleRnnCell;
use crate::layers::{Layer, LayerConfig};

const MERGES: [(MergeMode, &str); 4] = [
    (MergeMode::Concat, "concat"),
    (MergeMode::Sum, "sum"),
    (MergeMode::Mul, "mul"),
    (MergeMode::Ave, "ave"),
];

impl<L: Recurrent> Bidirectional<L> {
    pub(super) fn to_config(&self) -> Result<LayerConfig> {
        let merge = MERGES
            .iter()
            .find(|(m, _)| *m == self.merge)
            .map(|(_, name)| *name);
        // Built, each direction's own config (its dropout stream); else the template's.
        let (forward, backward) = match &self.directions {
            Some((f, b)) => (f.config()?, Some(b.config()?)),
            None => (self.layer.config()?, None),
        };
        let mut c = LayerConfig::new("Bidirectional")
            .with("layer", forward.to_json())
            .with("merge_mode", merge);
        if let Some(b) = backward {
            c = c.with("backward_layer", b.with("go_backwards", true).to_json());
        }
        Ok(c)
    }
}

/// The Bidirectional layer `c` describes, over an LSTM, GRU or SimpleRNN.
pub(crate) fn from_config(c: &LayerConfig) -> Result<Box<dyn Layer>> {
    let merge = match c.get("merge_mode")? {
        Value::Null => MergeMode::None,
        v => MERGES
            .iter()
            .find(|(_, name)| v.as_str() == Some(*name))
            .map(|(m, _)| *m)
            .ok_or_else(|| {
                Error::Config(format!(
                    "Bidirectional config: merge_mode {v} is not one of concat, sum, mul, ave, null"
                ))
            })?,
    };
    let layer = c.nested("layer")?;
    let backward = match c.config.get("backward_layer") {
        None | Some(Value::Null) => None,
        Some(_) => Some(c.nested("backward_layer")?),
    };
    match layer.class_name.as_str() {
        "LSTM" => wrap::<LstmCell>(&layer, backward, merge),
        "GRU" => wrap::<GruCell>(&layer, backward, merge),
        "SimpleRNN" => wrap::<SimpleRnnCell>(&layer, backward, merge),
        other => Err(Error::Config(format!(
            "Bidirectional config: wgfit wraps LSTM, GRU or SimpleRNN, not '{other}'"
        ))),
    }
}

/// Keys a direction may have of its own: its dropout stream, its direction, its name.
const OWN: [&str; 3] = ["mask_stream", "go_backwards", "name"];

fn wrap<C: Cell>(
    layer: &LayerConfig,
    backward: Option<LayerConfig>,
    merge: MergeMode,
) -> Result<Box<dyn Layer>> {
    let mut wrapper = Bidirectional::new(Rnn::<C>::from_config(layer)?).merge_mode(merge);
    if let Some(mut b) = backward {
        let strip = |c: &LayerConfig| {
            let mut m = c.config.clone();
            OWN.iter().for_each(|k| {
                m.remove(*k);
            });
            (c.class_name.clone(), m)
        };
        if strip(&b) != strip(layer) {
            return Err(Error::Config(format!(
                "Bidirectional config: backward_layer ({}) is not the same layer as layer ({}); \
                 wgfit runs one layer in both directions",
                b.to_json(),
                layer.to_json()
            )));
        }
        b.config.insert("go_backwards".into(), false.into());
        wrapper.backward = Some(Rnn::<C>::from_config(&b)?);
    }
    Ok(Box::new(wrapper))
}
