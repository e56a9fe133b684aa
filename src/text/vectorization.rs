//! `TextVectorization`: strings to token ids (or multi-hot / count rows), as Keras's layer
//! (keras/src/layers/preprocessing/text_vectorization.py): standardize, split, n-grams, then
//! a `StringLookup` with mask `""` and OOV `"[UNK]"`.

use ndarray::Array2;

use super::index_lookup::{IndexLookup, OutputMode};
use crate::error::{Error, Result};

/// The longest n-grams (Keras sets no limit; past a few, every n-gram is unique).
const MAX_NGRAMS: usize = 16;
/// The most ids a row may hold (`output_sequence_length`, or `max_tokens` of a multi-hot or
/// count row): 2^24, so that a size read from a file cannot ask for unbounded memory.
const MAX_LENGTH: usize = 1 << 24;
/// How texts are cleaned before splitting (Keras's `standardize`).
///
/// ```
/// use wgfit::text::{Split, Standardize, TextVectorization};
/// let tv = TextVectorization::new();
/// assert_eq!(tv.tokens("It's CAFÉ-time!"), ["its", "cafÉtime"]); // ASCII-only, as Keras
/// let tv = TextVectorization::new().standardize(Standardize::Lower).split(Split::Character);
/// assert_eq!(tv.tokens("Hé!"), ["h", "é", "!"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standardize {
    /// Lowercase, then strip punctuation: Keras's default.
    #[default]
    LowerAndStripPunctuation,
    /// Lowercase only.
    Lower,
    /// Strip punctuation only.
    StripPunctuation,
    /// Keep texts as they are (Keras's `standardize=None`).
    None,
}

/// How a text becomes tokens (Keras's `split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Split {
    /// On runs of ASCII whitespace (Keras's default, `tf.strings.split`).
    #[default]
    Whitespace,
    /// One token per Unicode character (`tf.strings.unicode_split`).
    Character,
    /// The whole text is one token.
    None,
}

// Keras's regex `[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']`: exactly ASCII punctuation.
fn is_stripped(c: char) -> bool {
    c.is_ascii_punctuation()
}

// tf.strings.split without a separator splits on absl's ASCII whitespace, which (unlike
// Rust's char::is_ascii_whitespace) includes the vertical tab; U+00A0 and other Unicode
// spaces stay inside tokens, as in Keras.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Strings to ids, as Keras's `TextVectorization`: [`adapt`](TextVectorization::adapt) on
/// texts learns a vocabulary (most frequent tokens first; id 0 is padding `""`, id 1 OOV
/// `"[UNK]"`); [`call`](TextVectorization::call) turns texts into ids `[N, T]` (as f32, what
/// `fit` and an [`Embedding`](crate::Embedding) take), padded with 0 at the end to
/// `output_sequence_length` or to the longest text; [`call_ragged`](TextVectorization::call_ragged)
/// gives each text its own length, for a [`SequenceDataset`](crate::data::SequenceDataset).
///
/// Standardisation matches Keras's exactly: `tf.strings.lower` and Keras's punctuation regex
/// are ASCII-only, so `"École!"` becomes `"École"` (not `"école"`).
///
/// ```
/// use wgfit::text::TextVectorization;
/// let mut tv = TextVectorization::new().output_sequence_length(4);
/// tv.adapt(&["The cat sat.", "The dog!", "a cat"])?;
/// assert_eq!(tv.vocabulary()[..4], ["", "[UNK]", "the", "cat"]);
/// let ids = tv.call(&["the CAT, the bird"])?;
/// assert_eq!(ids.row(0).to_vec(), [2.0, 3.0, 2.0, 1.0]); // "bird" is OOV
/// assert_eq!(tv.call_ragged(&["cat", ""])?, vec![vec![3], vec![]]);
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TextVectorization {
    standardize: Standardize,
    split: Split,
    ngrams: Vec<usize>,
    output_sequence_length: Option<usize>,
    lookup: IndexLookup<String>,
}

impl Default for TextVectorization {
    fn default() -> Self {
        TextVectorization::new()
    }
}

impl TextVectorization {
    /// Keras's defaults: lowercase and strip punctuation, split on whitespace, no n-grams,
    /// `Int` output padded to the longest text, no `max_tokens`.
    pub fn new() -> Self {
        TextVectorization {
            standardize: Standardize::default(),
            split: Split::default(),
            ngrams: Vec::new(),
            output_sequence_length: None,
            lookup: IndexLookup::with_defaults(
                "TextVectorization",
                Some(String::new()),
                "[UNK]".into(),
            ),
        }
    }

    /// At most this many ids, padding and OOV included (Keras's `max_tokens`).
    #[must_use]
    pub fn max_tokens(mut self, n: usize) -> Self {
        self.lookup.max_tokens = Some(n);
        self
    }

    /// How texts are cleaned (default [`Standardize::LowerAndStripPunctuation`]).
    #[must_use]
    pub fn standardize(mut self, s: Standardize) -> Self {
        self.standardize = s;
        self
    }

    /// How texts are split (default [`Split::Whitespace`]).
    #[must_use]
    pub fn split(mut self, s: Split) -> Self {
        self.split = s;
        self
    }

    /// Tokens are the n-grams of widths 1..=n, joined by a space (Keras's `ngrams=n`): each
    /// text's 1-grams first, then its 2-grams, and so on. 0 or 1 means words alone.
    #[must_use]
    pub fn ngrams(mut self, n: usize) -> Self {
        // Past MAX_NGRAMS only one size more is kept, for `check` to refuse: a size read from
        // a file never allocates its own length.
        self.ngrams = if n > 1 {
            (1..=n.min(MAX_NGRAMS + 1)).collect()
        } else {
            Vec::new()
        };
        self
    }

    /// `Int` (default), `MultiHot` or `Count` (Keras's `output_mode`).
    #[must_use]
    pub fn output_mode(mut self, mode: OutputMode) -> Self {
        self.lookup.output_mode = mode;
        self.lookup.reindex();
        self
    }

    /// `Int` output padded with 0 at the end, or truncated (keeping the first tokens), to
    /// exactly `n` steps (Keras's `output_sequence_length`).
    #[must_use]
    pub fn output_sequence_length(mut self, n: usize) -> Self {
        self.output_sequence_length = Some(n);
        self
    }

    /// `MultiHot` / `Count` rows of `max_tokens` values whatever the vocabulary's size.
    #[must_use]
    pub fn pad_to_max_tokens(mut self, on: bool) -> Self {
        self.lookup.pad_to_max_tokens = on;
        self
    }

    /// Uses `vocabulary` instead of adapting (Keras's `vocabulary=`): the tokens, with or
    /// without `""` and `"[UNK]"` first. What [`vocabulary`](TextVectorization::vocabulary)
    /// returns restores a vectorizer saved with a model.
    pub fn with_vocabulary<T: Into<String>>(
        mut self,
        vocabulary: impl IntoIterator<Item = T>,
    ) -> Result<Self> {
        self.set_vocabulary(vocabulary)?;
        Ok(self)
    }

    /// [`with_vocabulary`](TextVectorization::with_vocabulary) in place.
    pub fn set_vocabulary<T: Into<String>>(
        &mut self,
        vocabulary: impl IntoIterator<Item = T>,
    ) -> Result<()> {
        self.check()?;
        self.lookup
            .set_tokens(vocabulary.into_iter().map(Into::into).collect())
    }

    /// Keras's `get_vocabulary()`: the token of every id (`""` and `"[UNK]"` first in `Int`
    /// mode, `"[UNK]"` first otherwise).
    pub fn vocabulary(&self) -> Vec<String> {
        self.lookup.vocabulary()
    }

    /// Ids in use, padding and OOV included: an [`Embedding`](crate::Embedding)'s `input_dim`.
    pub fn vocabulary_size(&self) -> usize {
        self.lookup.vocabulary_size()
    }

    /// The output mode in use.
    pub fn mode(&self) -> OutputMode {
        self.lookup.output_mode
    }

    /// Whether [`adapt`](TextVectorization::adapt) ran or a vocabulary was given.
    pub fn is_adapted(&self) -> bool {
        self.lookup.is_ready()
    }

    pub(crate) fn lookup(&self) -> &IndexLookup<String> {
        &self.lookup
    }

    pub(crate) fn standardize_mode(&self) -> Standardize {
        self.standardize
    }

    pub(crate) fn split_mode(&self) -> Split {
        self.split
    }

    pub(crate) fn ngram_widths(&self) -> &[usize] {
        &self.ngrams
    }

    pub(crate) fn sequence_length(&self) -> Option<usize> {
        self.output_sequence_length
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.ngrams.len() > MAX_NGRAMS {
            return Err(Error::Config(format!(
                "TextVectorization: ngrams must be at most {MAX_NGRAMS}"
            )));
        }
        if let Some(n) = self.output_sequence_length.filter(|&n| n > MAX_LENGTH) {
            return Err(Error::Config(format!(
                "TextVectorization: output_sequence_length must be at most {MAX_LENGTH}, got {n}"
            )));
        }
        if let Some(n) = self.lookup.max_tokens.filter(|&n| n > MAX_LENGTH) {
            return Err(Error::Config(format!(
                "TextVectorization: max_tokens must be at most {MAX_LENGTH}, got {n}"
            )));
        }
        if self.output_sequence_length == Some(0) {
            return Err(Error::Config(
                "TextVectorization: output_sequence_length must be at least 1".into(),
            ));
        }
        if self.output_sequence_length.is_some() && self.lookup.output_mode != OutputMode::Int {
            return Err(Error::Config(
                "TextVectorization: output_sequence_length is for output_mode Int only".into(),
            ));
        }
        self.lookup.check_config()
    }

    /// One text's tokens after standardize, split and n-grams: what the vocabulary holds.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let lower = matches!(
            self.standardize,
            Standardize::LowerAndStripPunctuation | Standardize::Lower
        );
        let strip = matches!(
            self.standardize,
            Standardize::LowerAndStripPunctuation | Standardize::StripPunctuation
        );
        let clean: String = text
            .chars()
            .filter(|&c| !(strip && is_stripped(c)))
            .map(|c| if lower { c.to_ascii_lowercase() } else { c })
            .collect();
        let words: Vec<String> = match self.split {
            Split::Whitespace => clean
                .split(is_separator)
                .filter(|w| !w.is_empty())
                .map(String::from)
                .collect(),
            Split::Character => clean.chars().map(String::from).collect(),
            Split::None => vec![clean],
        };
        if self.ngrams.is_empty() {
            return words;
        }
        // tf.strings.ngrams(widths, separator=" "): all n-grams of each width in turn; a text
        // shorter than a width has none of it.
        let mut out = Vec::new();
        for &n in &self.ngrams {
            out.extend(words.windows(n).map(|w| w.join(" ")));
        }
        out
    }

    /// Learns the vocabulary from `texts` (Keras's `adapt`), replacing any learned before.
    /// Errors: [`Error::Config`] for bad settings or a given vocabulary, [`Error::Empty`] when
    /// the texts hold no token (empty, or punctuation only).
    pub fn adapt<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<()> {
        self.check()?;
        let tokens: Vec<String> = texts.iter().flat_map(|t| self.tokens(t.as_ref())).collect();
        self.lookup.adapt_tokens(tokens)
    }

    /// The ids of each text, each as long as its tokens (Keras's `ragged=True`): `[N][T_i]`,
    /// for [`SequenceDataset::from_sequences`](crate::data::SequenceDataset::from_sequences)
    /// (each batch padded to its own longest text). An empty text gives an empty row.
    pub fn call_ragged<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>> {
        self.check()?;
        let tokens: Vec<Vec<String>> = texts.iter().map(|t| self.tokens(t.as_ref())).collect();
        let mut ids = self.lookup.ids_of(&tokens)?;
        if let Some(n) = self.output_sequence_length {
            ids.iter_mut().for_each(|row| row.truncate(n));
        }
        Ok(ids)
    }

    /// `Int` output: ids `[N, T]` as f32 (for `fit`), padded with 0 at the end (or truncated)
    /// to `output_sequence_length`, else to the longest text (at least 1 step). `MultiHot` /
    /// `Count` output: rows `[N, vocabulary_size]`. Errors: [`Error::Config`] before `adapt`
    /// or a vocabulary.
    pub fn call<S: AsRef<str>>(&self, texts: &[S]) -> Result<Array2<f32>> {
        self.check()?;
        if self.lookup.output_mode != OutputMode::Int {
            let tokens: Vec<Vec<String>> = texts.iter().map(|t| self.tokens(t.as_ref())).collect();
            return self.lookup.encode_rows(&tokens);
        }
        let ids = self.call_ragged(texts)?;
        // Keras pads a batch of empty texts to [N, 0]; a model needs a step, so at least 1.
        let longest = ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let t = self.output_sequence_length.unwrap_or(longest);
        let mut out = Array2::zeros((texts.len(), t));
        for (i, row) in ids.iter().enumerate() {
            for (j, &id) in row.iter().enumerate() {
                out[[i, j]] = id as f32;
            }
        }
        Ok(out)
    }
}
