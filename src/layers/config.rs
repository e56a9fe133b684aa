//! A layer's configuration as data, for whole-model files: Keras's `class_name` ("Dense")
//! and `get_config()` keys ("units", "activation", ...) as JSON. Built-in kinds are made back
//! here by their own `from_config`; a user's kind once [`register_layer`] knows it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

use super::{
    Add, Average, Concatenate, Dense, Dropout, Embedding, Flatten, Gru, Layer, Lstm, Masking,
    Maximum, Minimum, Multiply, Normalization, SimpleRnn, SpatialDropout1D, Subtract,
};
use crate::activation::Activation;
use crate::error::{Error, Result};

/// What a layer is, as data (Keras's `{"class_name": ..., "config": {...}}`): enough to make
/// it again, without its weights. [`Layer::config`] gives it; [`register_layer`] tells
/// [`load_model`](crate::load_model) how to make a layer of your own from it.
///
/// ```
/// use wgfit::layers::{Layer, LayerConfig};
/// use wgfit::prelude::*;
/// let config = Dense::new(3).activation(Activation::Relu).config()?;
/// assert_eq!(config.class_name, "Dense");
/// assert_eq!(config.size("units")?, 3);
/// assert_eq!(config.string("activation")?, "relu");
/// let mine = LayerConfig::new("Scale").with("factor", 2.5);
/// assert_eq!(mine.float("factor")?, 2.5);
/// assert!(matches!(mine.size("units"), Err(Error::Config(_)))); // no such key
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LayerConfig {
    /// Keras's class name (`"Dense"`, `"LSTM"`), the key of the constructor that makes it.
    pub class_name: String,
    /// Its arguments by Keras's names.
    pub config: Map<String, Value>,
    // Sizes read with `size` must not pass this (a loaded file's weight count): a corrupt
    // config cannot ask for more memory than its file holds.
    limit: usize,
}

impl LayerConfig {
    /// An empty config of `class_name`.
    pub fn new(class_name: &str) -> Self {
        LayerConfig {
            class_name: class_name.to_string(),
            config: Map::new(),
            limit: usize::MAX,
        }
    }

    /// This config with `key` set to `value`.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.config.insert(key.to_string(), value.into());
        self
    }

    /// A config read from a file, whose sizes may not pass `limit`.
    pub(crate) fn bounded(class_name: &str, config: Map<String, Value>, limit: usize) -> Self {
        LayerConfig {
            class_name: class_name.to_string(),
            config,
            limit,
        }
    }

    /// The largest size [`size`](LayerConfig::size) accepts (unbounded unless loaded).
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn bad(&self, key: &str, what: &str) -> Error {
        Error::Config(format!(
            "{} config: '{key}' {what} (got {})",
            self.class_name,
            self.config
                .get(key)
                .map_or("nothing".into(), Value::to_string)
        ))
    }

    /// The value at `key`, or an [`Error::Config`] naming the class and key.
    pub fn get(&self, key: &str) -> Result<&Value> {
        self.config
            .get(key)
            .ok_or_else(|| self.bad(key, "is missing"))
    }

    /// A size (units, a vocabulary): an integer `>= 0` and no larger than
    /// [`limit`](LayerConfig::limit).
    pub fn size(&self, key: &str) -> Result<usize> {
        let v = self.get(key)?.as_u64();
        match v.and_then(|v| usize::try_from(v).ok()) {
            Some(v) if v <= self.limit => Ok(v),
            Some(_) => Err(self.bad(
                key,
                &format!("is larger than its file ({} bytes) could hold", self.limit),
            )),
            None => Err(self.bad(key, "must be an integer >= 0")),
        }
    }

    /// A size or `null`.
    pub fn size_or_null(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key)? {
            Value::Null => Ok(None),
            _ => self.size(key).map(Some),
        }
    }

    /// An integer (an axis), or `null`.
    pub fn int_or_null(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key)? {
            Value::Null => Ok(None),
            v => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.bad(key, "must be an integer or null")),
        }
    }

    /// A seed: an integer `>= 0`, or `null`.
    pub fn seed(&self, key: &str) -> Result<Option<u64>> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.bad(key, "must be an integer >= 0 or null")),
        }
    }

    /// A number, as f32.
    pub fn float(&self, key: &str) -> Result<f32> {
        self.get(key)?
            .as_f64()
            .map(|v| v as f32)
            .ok_or_else(|| self.bad(key, "must be a number"))
    }

    /// `true` or `false`.
    pub fn flag(&self, key: &str) -> Result<bool> {
        self.get(key)?
            .as_bool()
            .ok_or_else(|| self.bad(key, "must be true or false"))
    }

    /// A string.
    pub fn string(&self, key: &str) -> Result<&str> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| self.bad(key, "must be a string"))
    }

    /// An activation by Keras's name (`"relu"`).
    pub fn activation(&self, key: &str) -> Result<Activation> {
        let name = self.string(key)?;
        [
            Activation::Linear,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Softmax,
        ]
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| self.bad(key, "is not an activation wgfit has"))
    }

    /// The nested config at `key` (`{"class_name": ..., "config": {...}}`, a Bidirectional's
    /// layer), with this config's limit.
    pub fn nested(&self, key: &str) -> Result<LayerConfig> {
        let v = self.get(key)?;
        let class = v.get("class_name").and_then(Value::as_str);
        let config = v.get("config").and_then(Value::as_object);
        match (class, config) {
            (Some(c), Some(m)) => Ok(LayerConfig::bounded(c, m.clone(), self.limit)),
            _ => Err(self.bad(key, "must be {\"class_name\": ..., \"config\": {...}}")),
        }
    }

    /// This config as `{"class_name": ..., "config": {...}}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("class_name".into(), self.class_name.clone().into());
        m.insert("config".into(), Value::Object(self.config.clone()));
        Value::Object(m)
    }
}

/// Makes a layer from its config.
pub type LayerConstructor = dyn Fn(&LayerConfig) -> Result<Box<dyn Layer>> + Send + Sync;

type Registry = RwLock<HashMap<String, Arc<LayerConstructor>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The class names wgfit makes itself.
pub const BUILT_IN: &[&str] = &[
    "Dense",
    "Embedding",
    "Masking",
    "Flatten",
    "Dropout",
    "SpatialDropout1D",
    "Normalization",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Bidirectional",
    "Concatenate",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
];

/// Teaches [`load_model`](crate::load_model) to make layers of class `class_name` (what your
/// layer's [`Layer::config`] names) from their config. Registering a class again replaces
/// its constructor; a built-in class name is an [`Error::Config`].
///
/// ```
/// use wgfit::layers::{LayerConfig, Layer};
/// use wgfit::prelude::*;
/// wgfit::register_layer("Doc.Identity", |_cfg: &LayerConfig| Ok(Box::new(Flatten::new()) as Box<dyn Layer>))?;
/// assert!(wgfit::register_layer("Dense", |_cfg: &LayerConfig| Ok(Box::new(Flatten::new()) as Box<dyn Layer>)).is_err());
/// # Ok::<(), wgfit::Error>(())
/// ```
pub fn register_layer(
    class_name: &str,
    make: impl Fn(&LayerConfig) -> Result<Box<dyn Layer>> + Send + Sync + 'static,
) -> Result<()> {
    if BUILT_IN.contains(&class_name) {
        return Err(Error::Config(format!(
            "register_layer: '{class_name}' is a built-in layer class"
        )));
    }
    let mut map = registry().write().unwrap_or_else(|e| e.into_inner());
    map.insert(class_name.to_string(), Arc::new(make));
    Ok(())
}

/// The layer `config` describes: a built-in class, or one [`register_layer`] knows.
pub(crate) fn from_config(config: &LayerConfig) -> Result<Box<dyn Layer>> {
    fn boxed(layer: impl Layer + 'static) -> Result<Box<dyn Layer>> {
        Ok(Box::new(layer))
    }
    match config.class_name.as_str() {
        "Dense" => boxed(Dense::from_config(config)?),
        "Embedding" => boxed(Embedding::from_config(config)?),
        "Masking" => boxed(Masking::new(config.float("mask_value")?)),
        "Flatten" => boxed(Flatten::new()),
        "Dropout" => boxed(Dropout::from_config(config)?),
        "SpatialDropout1D" => boxed(SpatialDropout1D::from_config(config)?),
        "Normalization" => boxed(Normalization::from_config(config)?),
        "LSTM" => boxed(Lstm::from_config(config)?),
        "GRU" => boxed(Gru::from_config(config)?),
        "SimpleRNN" => boxed(SimpleRnn::from_config(config)?),
        "Bidirectional" => super::bidirectional::config::from_config(config),
        "Concatenate" => {
            let axis = config.int_or_null("axis")?.unwrap_or(-1);
            let axis = isize::try_from(axis)
                .map_err(|_| Error::Config(format!("Concatenate config: axis {axis}")))?;
            boxed(Concatenate::new().axis(axis))
        }
        "Add" => boxed(Add::new()),
        "Subtract" => boxed(Subtract::new()),
        "Multiply" => boxed(Multiply::new()),
        "Average" => boxed(Average::new()),
        "Maximum" => boxed(Maximum::new()),
        "Minimum" => boxed(Minimum::new()),
        other => {
            let make = registry()
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(other)
                .cloned();
            match make {
                Some(make) => make(config),
                None => Err(Error::Config(format!(
                    "unknown layer class '{other}': not a wgfit layer, and no constructor was \
                     registered for it (wgfit::register_layer)"
                ))),
            }
        }
    }
}

/// The config of a layer without arguments (Flatten, the elementwise merges).
pub(crate) fn plain(class_name: &str) -> Result<LayerConfig> {
    Ok(LayerConfig::new(class_name))
}
