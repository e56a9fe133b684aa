//! `TextModel`: a model whose input is text. The vectorizer runs on the host (strings never
//! reach the device graph, which holds f32 / u32 tensors); its ids feed the model's one
//! training loop (`Model::fit`, `evaluate`, `predict`), and its vocabulary and settings travel
//! in the model or weights file's metadata.

use std::borrow::{Borrow, BorrowMut};
use std::collections::HashMap;
use std::path::Path;

use ndarray::ArrayD;

use super::vectorization::TextVectorization;
use crate::error::{Error, Result};
use crate::io::file::{file_error, read_metadata, write_atomically};
use crate::model::{Arrays, Evaluation, FitOptions, History, Model, Sequential};

impl Borrow<Model> for Sequential {
    fn borrow(&self) -> &Model {
        self
    }
}

impl BorrowMut<Model> for Sequential {
    fn borrow_mut(&mut self) -> &mut Model {
        self
    }
}

/// A [`TextVectorization`] in front of a model (a [`Sequential`] or a graph [`Model`]) whose
/// first layer takes its ids, usually an [`Embedding`](crate::Embedding) of
/// `vectorizer.vocabulary_size()` entries: Keras's `model = Sequential([vectorize, ...])`,
/// with the strings turned into ids on the host before each call.
///
/// ```
/// use wgfit::prelude::*;
/// let texts = ["good fun film", "bad dull film", "fun and good", "dull, bad plot"];
/// let labels = ndarray::arr2(&[[1.0f32], [0.0], [1.0], [0.0]]);
/// let mut tv = TextVectorization::new().output_sequence_length(4);
/// tv.adapt(&texts)?;
/// let model = Sequential::new()
///     .add(Embedding::new(tv.vocabulary_size(), 4).mask_zero(true))
///     .add(Lstm::new(3))
///     .add(Dense::new(1).activation(Activation::Sigmoid));
/// let mut model = TextModel::new(tv, model)?;
/// model.compile(&Device::cpu(), Optimizer::adam(), Loss::BinaryCrossentropy, &[Metric::Accuracy])?;
/// model.fit(&texts, &labels, FitOptions::new().epochs(2).verbose(0))?;
/// assert_eq!(model.predict(&["good film", "an unseen text"])?.shape(), &[2, 1]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub struct TextModel<M: BorrowMut<Model> = Model> {
    vectorizer: TextVectorization,
    model: M,
}

impl<M: BorrowMut<Model>> std::fmt::Debug for TextModel<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextModel")
            .field("vectorizer", &self.vectorizer)
            .field("layers", &self.model().layer_names())
            .finish()
    }
}

impl<M: BorrowMut<Model>> TextModel<M> {
    /// `vectorizer` (adapted, or given a vocabulary) in front of `model`. Errors:
    /// [`Error::Config`] when the vectorizer has no vocabulary yet.
    pub fn new(vectorizer: TextVectorization, model: M) -> Result<Self> {
        if !vectorizer.is_adapted() {
            return Err(Error::Config(
                "TextModel: the TextVectorization has no vocabulary yet: call adapt(..) on the \
                 training texts (or give a vocabulary) before building the model"
                    .into(),
            ));
        }
        Ok(TextModel { vectorizer, model })
    }

    /// The vectorizer.
    pub fn vectorizer(&self) -> &TextVectorization {
        &self.vectorizer
    }

    /// The model behind the vectorizer.
    pub fn model(&self) -> &Model {
        self.model.borrow()
    }

    /// The model behind the vectorizer, for what `TextModel` does not wrap (callbacks'
    /// trainers, `get_weights`, `summary`...).
    pub fn model_mut(&mut self) -> &mut Model {
        self.model.borrow_mut()
    }

    /// The model and the vectorizer, taken apart.
    pub fn into_parts(self) -> (TextVectorization, M) {
        (self.vectorizer, self.model)
    }

    /// [`Model::compile`].
    pub fn compile(
        &mut self,
        device: &crate::Device,
        optimizer: crate::Optimizer,
        loss: crate::Loss,
        metrics: &[crate::Metric],
    ) -> Result<()> {
        self.model
            .borrow_mut()
            .compile(device, optimizer, loss, metrics)
    }

    /// The vectorizer's output for `texts` (what the model receives).
    pub fn vectorize<S: AsRef<str>>(&self, texts: &[S]) -> Result<ndarray::Array2<f32>> {
        self.vectorizer.call(texts)
    }

    /// [`Model::fit`] on the texts' ids: the same loop, options and history.
    pub fn fit<'y, S: AsRef<str>>(
        &mut self,
        texts: &[S],
        y: impl Into<Arrays<'y>>,
        opts: FitOptions,
    ) -> Result<History> {
        let x = self.vectorize(texts)?;
        self.model.borrow_mut().fit(&x, y, opts)
    }

    /// [`Model::evaluate`] on the texts' ids.
    pub fn evaluate<'y, S: AsRef<str>>(
        &mut self,
        texts: &[S],
        y: impl Into<Arrays<'y>>,
    ) -> Result<Evaluation> {
        let x = self.vectorize(texts)?;
        self.model.borrow_mut().evaluate(&x, y)
    }

    /// [`Model::predict`] on the texts' ids.
    pub fn predict<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<ArrayD<f32>> {
        let x = self.vectorize(texts)?;
        self.model.borrow_mut().predict(&x)
    }

    /// Saves the whole text model to one file: [`Model::save`]'s file (architecture,
    /// weights, compile settings, optimizer state) with the vectorizer's settings and
    /// vocabulary ([`TextVectorization::config_entries`]) in its metadata, as Keras saves a
    /// model whose first layer is a `TextVectorization`. [`TextModel::load`] gives back both;
    /// [`load_model`](crate::load_model) opens the file too and gives the model alone (ids in).
    /// Errors as [`Model::save`]'s.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let entries = self.vectorizer.config_entries();
        self.model().save_model(path.as_ref(), true, entries)
    }

    /// [`save`](TextModel::save) without the optimizer's state (for inference).
    pub fn save_without_optimizer(&self, path: impl AsRef<Path>) -> Result<()> {
        let entries = self.vectorizer.config_entries();
        self.model().save_model(path.as_ref(), false, entries)
    }

    /// [`Model::save_weights`], with the vectorizer's settings and vocabulary
    /// ([`TextVectorization::config_entries`]) in the file's metadata; the file still loads
    /// with `Model::load_weights`.
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        let weights = self.model().get_weights()?;
        if weights.is_empty() {
            return Err(Error::Config(
                "TextModel: the model has no weights yet: compile it first".into(),
            ));
        }
        let mut meta = HashMap::from([("format".to_string(), "wgfit".to_string())]);
        meta.extend(self.vectorizer.config_entries());
        write_atomically(path.as_ref(), &weights, meta)
    }

    /// [`Model::load_weights`], and the vectorizer saved with them. Errors as
    /// `load_weights`'s, and [`Error::File`] for a file without a vectorizer.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let vectorizer = TextVectorization::from_weights_file(path.as_ref())?;
        self.model.borrow_mut().load_weights(path)?;
        self.vectorizer = vectorizer;
        Ok(())
    }
}

impl TextModel {
    /// The text model saved by [`TextModel::save`] in `path`, on `device`: the vectorizer
    /// with its vocabulary, and the model as [`load_model`](crate::load_model) gives it,
    /// compiled and ready to predict or train on from strings.
    ///
    /// Errors: [`load_model`](crate::load_model)'s, and [`Error::File`] naming the path for a
    /// model file without a vectorizer (saved with `Model::save`) or with a bad vectorizer entry.
    pub fn load(path: impl AsRef<Path>, device: &crate::device::Device) -> Result<Self> {
        let path = path.as_ref();
        let vectorizer = TextVectorization::from_weights_file(path)?;
        let model = crate::io::load_model(path, device)?;
        TextModel::new(vectorizer, model)
    }
}

impl TextVectorization {
    /// The vectorizer saved by [`TextModel::save`] or [`TextModel::save_weights`] in `path`, to size a model's
    /// `Embedding` before loading the weights into it. Errors: [`Error::File`] for a file
    /// that cannot be read or holds no vectorizer, [`Error::Config`] for a bad entry.
    pub fn from_weights_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let meta = read_metadata(path)?;
        if !meta.contains_key("text_vectorization.vocabulary") {
            return Err(file_error(
                path,
                "holds no TextVectorization (no text_vectorization.vocabulary in its metadata): \
                 save it with TextModel::save or TextModel::save_weights",
            ));
        }
        TextVectorization::from_config_entries(&meta).map_err(|e| match e {
            Error::Config(m) => file_error(path, format!("its TextVectorization: {m}")),
            other => other,
        })
    }
}
