//! `StringLookup` and `IntegerLookup`: the two front ends of [`IndexLookup`], with Keras's
//! defaults (no mask token, one OOV id; OOV token `"[UNK]"` for strings, `-1` for integers).

use ndarray::Array2;

use super::index_lookup::{IndexLookup, OutputMode, Token};
use crate::error::Result;

/// Strings to ids, as Keras's `StringLookup`: adapt a vocabulary on data (or give one), then
/// map each string to its id; unknown ones go to the OOV id(s).
///
/// ```
/// use wgfit::text::StringLookup;
/// let mut lookup = StringLookup::new();
/// lookup.adapt(["a", "b", "b", "c", "c"])?;
/// // Ordered by count, then (for ties) by the token, high to low; id 0 is "[UNK]".
/// assert_eq!(lookup.vocabulary(), ["[UNK]", "c", "b", "a"]);
/// assert_eq!(lookup.ids(["a", "c", "zebra"])?, [3, 1, 0]);
/// assert_eq!(lookup.invert(&[3, 1, 7])?, ["a", "c", "[UNK]"]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub type StringLookup = IndexLookup<String>;

/// Integers to ids, as Keras's `IntegerLookup` (`vocabulary_dtype="int64"`): OOV token `-1`;
/// several OOV ids take `floormod(value, num_oov_indices)`, as Keras does.
///
/// ```
/// use wgfit::text::IntegerLookup;
/// let mut lookup = IntegerLookup::new().mask_token(Some(0));
/// lookup.adapt([12, 1138, 42, 42, 12, 12])?;
/// assert_eq!(lookup.vocabulary(), [0, -1, 12, 42, 1138]);
/// assert_eq!(lookup.ids([42, 0, 7])?, [3, 0, 1]);
/// # Ok::<(), wgfit::Error>(())
/// ```
pub type IntegerLookup = IndexLookup<i64>;

impl Default for IndexLookup<String> {
    fn default() -> Self {
        Self::new()
    }
}

impl IndexLookup<String> {
    /// Keras's `StringLookup()`: no mask token, one OOV id, OOV token `"[UNK]"`, `Int` output.
    pub fn new() -> Self {
        IndexLookup::with_defaults("StringLookup", None, "[UNK]".to_string())
    }
}

impl Default for IndexLookup<i64> {
    fn default() -> Self {
        Self::new()
    }
}

impl IndexLookup<i64> {
    /// Keras's `IntegerLookup()`: no mask token, one OOV id, OOV token `-1`, `Int` output.
    pub fn new() -> Self {
        IndexLookup::with_defaults("IntegerLookup", None, -1)
    }
}

impl<K: Token> IndexLookup<K> {
    /// At most this many ids, the mask and OOV ids included (Keras's `max_tokens`); `adapt`
    /// keeps the most frequent tokens. Must be greater than 1 (and than the special ids).
    #[must_use]
    pub fn max_tokens(mut self, n: usize) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// How many OOV ids unknown tokens share (default 1). 0 makes an unknown token an error;
    /// more than 1 spreads them by hash (strings) or `floormod` (integers), as Keras does.
    #[must_use]
    pub fn num_oov_indices(mut self, n: usize) -> Self {
        self.num_oov_indices = n;
        self.reindex();
        self
    }

    /// The token that maps to id 0 (and is never learned), or `None` (the default): Keras's
    /// `mask_token`. Only `Int` output keeps an id for it; other modes drop it.
    #[must_use]
    pub fn mask_token(mut self, token: Option<impl Into<K>>) -> Self {
        self.mask_token = token.map(Into::into);
        self.reindex();
        self
    }

    /// The token `vocabulary()` and `invert` show for OOV ids (Keras's `oov_token`).
    #[must_use]
    pub fn oov_token(mut self, token: impl Into<K>) -> Self {
        self.oov_token = token.into();
        self
    }

    /// `Int` (the default), `MultiHot` or `Count` (Keras's `output_mode`; `one_hot` and
    /// `tf_idf` are not implemented).
    #[must_use]
    pub fn output_mode(mut self, mode: OutputMode) -> Self {
        self.output_mode = mode;
        self.reindex();
        self
    }

    /// `MultiHot` / `Count` rows of `max_tokens` values whatever the vocabulary's size.
    #[must_use]
    pub fn pad_to_max_tokens(mut self, on: bool) -> Self {
        self.pad_to_max_tokens = on;
        self
    }

    /// Learns the vocabulary from every token of `data` (Keras's `adapt`), replacing any
    /// learned before. Errors: [`Error::Config`](crate::Error::Config) for a given vocabulary
    /// or bad settings, [`Error::Empty`](crate::Error::Empty) for data with no token to learn.
    pub fn adapt<T: Into<K>>(&mut self, data: impl IntoIterator<Item = T>) -> Result<()> {
        self.adapt_tokens(data.into_iter().map(Into::into))
    }

    /// Uses `vocabulary` instead of adapting (Keras's `vocabulary=` / `set_vocabulary`):
    /// the tokens alone, or as [`vocabulary`](IndexLookup::vocabulary) returns them (mask and
    /// OOV entries first). Errors ([`Error::Config`](crate::Error::Config)): empty, a repeated
    /// token, the mask token among the tokens, more entries than `max_tokens`.
    pub fn set_vocabulary<T: Into<K>>(
        &mut self,
        vocabulary: impl IntoIterator<Item = T>,
    ) -> Result<()> {
        self.set_tokens(vocabulary.into_iter().map(Into::into).collect())
    }

    /// [`set_vocabulary`](IndexLookup::set_vocabulary) as a builder: for a vocabulary saved
    /// with a model (`vocabulary()`), after the settings it was made with.
    pub fn with_vocabulary<T: Into<K>>(
        mut self,
        vocabulary: impl IntoIterator<Item = T>,
    ) -> Result<Self> {
        self.set_vocabulary(vocabulary)?;
        Ok(self)
    }

    /// The id of each token (`Int` output). Errors: [`Error::Config`](crate::Error::Config)
    /// before a vocabulary, [`Error::Data`](crate::Error::Data) for an unknown token with
    /// `num_oov_indices(0)` (naming its position).
    pub fn ids<T: Into<K>>(&self, tokens: impl IntoIterator<Item = T>) -> Result<Vec<u32>> {
        let sample = vec![tokens.into_iter().map(Into::into).collect()];
        Ok(self.ids_of(&sample)?.remove(0))
    }

    /// `MultiHot` or `Count` rows `[N, depth]`, one per sample of tokens.
    pub fn encode<T: Into<K>, S: IntoIterator<Item = T>>(
        &self,
        samples: impl IntoIterator<Item = S>,
    ) -> Result<Array2<f32>> {
        let samples: Vec<Vec<K>> = samples
            .into_iter()
            .map(|s| s.into_iter().map(Into::into).collect())
            .collect();
        self.encode_rows(&samples)
    }

    /// The output mode in use.
    pub fn mode(&self) -> OutputMode {
        self.output_mode
    }
}
