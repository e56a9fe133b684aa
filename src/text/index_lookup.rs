//! The vocabulary core shared by `StringLookup`, `IntegerLookup` and `TextVectorization`, as
//! Keras's `IndexLookup` (keras/src/layers/preprocessing/index_lookup.py): ids are
//! `[mask] [oov; num_oov_indices] tokens...`, tokens ordered by count (high to low) with ties
//! broken by the token itself (high to low: bytes for strings, values for integers).

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use ndarray::Array2;

use super::farmhash::fingerprint64;
use crate::error::{Error, Result};

/// What a lookup layer returns, as Keras's `output_mode`.
///
/// ```
/// use wgfit::text::{OutputMode, StringLookup};
/// let mut counts = StringLookup::new().output_mode(OutputMode::Count);
/// counts.adapt(["a", "b", "b"])?;
/// assert_eq!(counts.encode([["b", "b", "zz"]])?, ndarray::arr2(&[[1.0, 2.0, 0.0]]));
/// # Ok::<(), wgfit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// One id per token (Keras's default `"int"`).
    #[default]
    Int,
    /// One row per sample of `depth` values, 1 where the sample holds that id (`"multi_hot"`).
    MultiHot,
    /// One row per sample of `depth` values, how often the sample holds that id (`"count"`).
    Count,
}

/// A vocabulary entry: a string (`StringLookup`, `TextVectorization`) or an integer
/// (`IntegerLookup`). Two implementations, because Keras hashes them to OOV buckets apart.
pub trait Token: Clone + Eq + Hash + Ord + Debug {
    /// The OOV bucket in `0..n` (n > 1) of an unknown token: FarmHash `Fingerprint64` modulo
    /// n for strings (`tf.strings.to_hash_bucket_fast`), `floormod(token, n)` for integers.
    fn oov_bucket(&self, n: usize) -> usize;
}

impl Token for String {
    fn oov_bucket(&self, n: usize) -> usize {
        (fingerprint64(self.as_bytes()) % n as u64) as usize
    }
}

impl Token for i64 {
    fn oov_bucket(&self, n: usize) -> usize {
        self.rem_euclid(n as i64) as usize
    }
}

/// A vocabulary lookup, as Keras's `IndexLookup`: [`StringLookup`](super::StringLookup)
/// (`IndexLookup<String>`) and [`IntegerLookup`](super::IntegerLookup) (`IndexLookup<i64>`),
/// and the core of [`TextVectorization`](super::TextVectorization). Its settings and
/// vocabulary are plain data ([`vocabulary`](IndexLookup::vocabulary) and the builders), so a
/// model file can carry them. Host-side: ids go into a model, strings never do.
#[derive(Debug, Clone)]
pub struct IndexLookup<K: Token> {
    pub(crate) layer: &'static str,
    pub(crate) max_tokens: Option<usize>,
    pub(crate) num_oov_indices: usize,
    pub(crate) mask_token: Option<K>,
    pub(crate) oov_token: K,
    pub(crate) output_mode: OutputMode,
    pub(crate) pad_to_max_tokens: bool,
    // Learned or given tokens, without the mask and OOV entries; None before either.
    tokens: Option<Vec<K>>,
    index: HashMap<K, usize>,
    // A vocabulary given by the user: adapt is refused, as in Keras.
    given: bool,
}

impl<K: Token> IndexLookup<K> {
    pub(crate) fn with_defaults(layer: &'static str, mask_token: Option<K>, oov_token: K) -> Self {
        IndexLookup {
            layer,
            max_tokens: None,
            num_oov_indices: 1,
            mask_token,
            oov_token,
            output_mode: OutputMode::Int,
            pad_to_max_tokens: false,
            tokens: None,
            index: HashMap::new(),
            given: false,
        }
    }

    /// Where the OOV ids start: after the mask id, which only `Int` output has.
    fn oov_start(&self) -> usize {
        usize::from(self.mask_token.is_some() && self.output_mode == OutputMode::Int)
    }

    fn token_start(&self) -> usize {
        self.oov_start() + self.num_oov_indices
    }

    /// Keras's constructor checks, made when the settings are first used.
    pub(crate) fn check_config(&self) -> Result<()> {
        let layer = self.layer;
        if let Some(n) = self.max_tokens
            && n <= 1
        {
            return Err(Error::Config(format!(
                "{layer}: max_tokens must be greater than 1 (it counts the mask and OOV ids too), got {n}"
            )));
        }
        if let Some(n) = self.max_tokens
            && n <= self.token_start()
        {
            return Err(Error::Config(format!(
                "{layer}: max_tokens {n} leaves no room for tokens after the {} mask and OOV ids",
                self.token_start()
            )));
        }
        if self.pad_to_max_tokens && self.max_tokens.is_none() {
            return Err(Error::Config(format!(
                "{layer}: pad_to_max_tokens needs max_tokens to be set"
            )));
        }
        Ok(())
    }

    /// Learns the vocabulary from `tokens` (Keras's `adapt`): every token counted, the mask and
    /// OOV tokens left out, sorted by count then token (both high to low), cut to `max_tokens`.
    pub(crate) fn adapt_tokens(&mut self, tokens: impl IntoIterator<Item = K>) -> Result<()> {
        self.check_config()?;
        if self.given {
            return Err(Error::Config(format!(
                "{}: cannot adapt a layer whose vocabulary was given; build a new layer to adapt",
                self.layer
            )));
        }
        let mut counts: HashMap<K, u64> = HashMap::new();
        for t in tokens {
            *counts.entry(t).or_insert(0) += 1;
        }
        counts.remove(&self.oov_token);
        if let Some(m) = &self.mask_token {
            counts.remove(m);
        }
        if counts.is_empty() {
            return Err(Error::Empty {
                what: format!(
                    "{}.adapt: the data (no token besides the mask and OOV tokens)",
                    self.layer
                ),
                sample: None,
            });
        }
        let mut sorted: Vec<(K, u64)> = counts.into_iter().collect();
        // numpy's lexsort((tokens, counts))[::-1]: count, then token, both descending.
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        if let Some(n) = self.max_tokens {
            sorted.truncate(n - self.token_start());
        }
        self.install(sorted.into_iter().map(|(k, _)| k).collect());
        Ok(())
    }

    /// Uses `vocabulary` (Keras's `vocabulary=` / `set_vocabulary`): with or without the
    /// mask and OOV entries at its start, in exactly the order `vocabulary()` returns them.
    pub(crate) fn set_tokens(&mut self, vocabulary: Vec<K>) -> Result<()> {
        self.check_config()?;
        let layer = self.layer;
        if vocabulary.is_empty() {
            return Err(Error::Config(format!(
                "{layer}: cannot set an empty vocabulary"
            )));
        }
        let special = self.special_tokens();
        let tokens =
            if vocabulary.len() >= special.len() && vocabulary[..special.len()] == special[..] {
                vocabulary[special.len()..].to_vec()
            } else {
                vocabulary
            };
        let mut seen = HashMap::new();
        for (i, t) in tokens.iter().enumerate() {
            if let Some(j) = seen.insert(t, i) {
                return Err(Error::Config(format!(
                    "{layer}: the vocabulary repeats {t:?} (entries {j} and {i}); each token must appear once"
                )));
            }
        }
        if let Some(m) = &self.mask_token
            && tokens.contains(m)
        {
            return Err(Error::Config(format!(
                "{layer}: the mask token {m:?} is among the tokens; leave the mask and OOV tokens \
                 out of the vocabulary, or put them only at its start in this order: {special:?}"
            )));
        }
        let size = self.token_start() + tokens.len();
        if let Some(n) = self.max_tokens
            && size > n
        {
            return Err(Error::Config(format!(
                "{layer}: a vocabulary of {size} entries (mask and OOV ids included) is more than max_tokens {n}"
            )));
        }
        self.install(tokens);
        self.given = true;
        Ok(())
    }

    /// After a setting changes: the ids of the tokens move with the mask and OOV ids.
    pub(crate) fn reindex(&mut self) {
        if let Some(tokens) = self.tokens.take() {
            self.install(tokens);
        }
    }

    fn install(&mut self, tokens: Vec<K>) {
        let start = self.token_start();
        self.index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), start + i))
            .collect();
        self.tokens = Some(tokens);
    }

    fn special_tokens(&self) -> Vec<K> {
        let mut v = Vec::new();
        if let (1, Some(m)) = (self.oov_start(), &self.mask_token) {
            v.push(m.clone());
        }
        v.extend(std::iter::repeat_n(
            self.oov_token.clone(),
            self.num_oov_indices,
        ));
        v
    }

    /// Keras's `get_vocabulary()`: the token of every id, mask and OOV entries included.
    pub fn vocabulary(&self) -> Vec<K> {
        let mut v = self.special_tokens();
        v.extend(self.tokens.iter().flatten().cloned());
        v
    }

    /// Keras's `vocabulary_size()`: ids in use, mask and OOV ids included.
    pub fn vocabulary_size(&self) -> usize {
        self.token_start() + self.tokens.as_ref().map_or(0, Vec::len)
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.tokens.is_some()
    }

    fn ready(&self) -> Result<()> {
        self.check_config()?;
        let layer = self.layer;
        if let Some(n) = self.max_tokens
            && self.vocabulary_size() > n
        {
            return Err(Error::Config(format!(
                "{layer}: its vocabulary has {} entries, more than max_tokens {n} (set after it)",
                self.vocabulary_size()
            )));
        }
        if self.tokens.is_none() {
            return Err(Error::Config(format!(
                "{}: no vocabulary yet: call adapt(..) on data first, or give one with with_vocabulary(..)",
                self.layer
            )));
        }
        Ok(())
    }

    /// The id of one token; `None` for the mask token outside `Int` output (Keras drops it
    /// from the counts). `sample` and `position` name the token in an error.
    fn id(&self, token: &K, sample: usize, position: usize) -> Result<Option<usize>> {
        if self.mask_token.as_ref() == Some(token) {
            return Ok((self.output_mode == OutputMode::Int).then_some(0));
        }
        if let Some(&i) = self.index.get(token) {
            return Ok(Some(i));
        }
        match self.num_oov_indices {
            0 => Err(Error::Data(format!(
                "{}: sample {sample}, position {position}: {token:?} is not in the vocabulary and \
                 num_oov_indices is 0; set num_oov_indices(1) to map unknown tokens to an OOV id",
                self.layer
            ))),
            1 => Ok(Some(self.oov_start())),
            n => Ok(Some(self.oov_start() + token.oov_bucket(n))),
        }
    }

    /// `Int` output: the ids of each sample's tokens. `[N][T_i]`.
    pub(crate) fn ids_of(&self, samples: &[Vec<K>]) -> Result<Vec<Vec<u32>>> {
        self.ready()?;
        if self.output_mode != OutputMode::Int {
            return Err(Error::Config(format!(
                "{}: ids need output_mode Int; this layer's is {:?} (call encode)",
                self.layer, self.output_mode
            )));
        }
        samples
            .iter()
            .enumerate()
            .map(|(s, tokens)| {
                let ids = tokens.iter().enumerate().map(|(p, t)| self.id(t, s, p));
                ids.map(|id| id.map(|i| i.unwrap_or(0) as u32)).collect()
            })
            .collect()
    }

    /// `MultiHot` / `Count` output: `[N, depth]`, depth the vocabulary size (or `max_tokens`
    /// with `pad_to_max_tokens`).
    pub(crate) fn encode_rows(&self, samples: &[Vec<K>]) -> Result<Array2<f32>> {
        self.ready()?;
        if self.output_mode == OutputMode::Int {
            return Err(Error::Config(format!(
                "{}: output_mode Int gives ids, not encoded rows (call the ids method)",
                self.layer
            )));
        }
        let depth = match (self.pad_to_max_tokens, self.max_tokens) {
            (true, Some(n)) => n,
            _ => self.vocabulary_size(),
        };
        let mut out = Array2::zeros((samples.len(), depth));
        for (s, tokens) in samples.iter().enumerate() {
            for (p, t) in tokens.iter().enumerate() {
                if let Some(i) = self.id(t, s, p)? {
                    out[[s, i]] = match self.output_mode {
                        OutputMode::MultiHot => 1.0,
                        _ => out[[s, i]] + 1.0,
                    };
                }
            }
        }
        Ok(out)
    }

    /// Keras's `invert=True`: the token of each id; the mask token for 0 when there is one,
    /// the OOV token for OOV ids and ids out of range (negative ones too).
    pub fn invert(&self, ids: &[i64]) -> Result<Vec<K>> {
        self.ready()?;
        let layer = self.layer;
        if self.output_mode != OutputMode::Int {
            return Err(Error::Config(format!(
                "{layer}: invert needs output_mode Int"
            )));
        }
        if self.index.contains_key(&self.oov_token) {
            return Err(Error::Config(format!(
                "{layer}: the OOV token {:?} is among the tokens, so an inverse lookup could not \
                 tell it from an OOV id (Keras refuses it too)",
                self.oov_token
            )));
        }
        let tokens = self.tokens.as_deref().unwrap_or_default();
        let start = self.token_start() as i64;
        Ok(ids
            .iter()
            .map(|&id| match &self.mask_token {
                Some(m) if id == 0 => m.clone(),
                _ if id >= start && id - start < tokens.len() as i64 => {
                    tokens[(id - start) as usize].clone()
                }
                _ => self.oov_token.clone(),
            })
            .collect())
    }
}
