//! A `TextVectorization`'s settings and vocabulary as plain string entries (Keras's
//! `get_config` keys under `text_vectorization.`), for safetensors metadata or any model file.

use std::collections::HashMap;

use super::index_lookup::OutputMode;
use super::vectorization::{Split, Standardize, TextVectorization};
use crate::error::{Error, Result};

const PREFIX: &str = "text_vectorization.";

// One token per line; a backslash and a line break inside a token are escaped, so any
// token (split None keeps line breaks) survives.
fn join_tokens(tokens: &[String]) -> String {
    let escaped: Vec<String> = tokens
        .iter()
        .map(|t| t.replace('\\', "\\\\").replace('\n', "\\n"))
        .collect();
    escaped.join("\n")
}

fn split_tokens(s: &str) -> Result<Vec<String>> {
    s.split('\n')
        .map(|line| {
            let mut out = String::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                match (c, c == '\\') {
                    (_, true) => match chars.next() {
                        Some('\\') => out.push('\\'),
                        Some('n') => out.push('\n'),
                        other => return Err(bad("vocabulary", &format!("escape \\{other:?}"))),
                    },
                    (c, false) => out.push(c),
                }
            }
            Ok(out)
        })
        .collect()
}

fn bad(key: &str, value: &str) -> Error {
    Error::Config(format!(
        "TextVectorization config: {PREFIX}{key} has the value {value:?}, which wgfit cannot read"
    ))
}

fn standardize_name(s: Standardize) -> &'static str {
    match s {
        Standardize::LowerAndStripPunctuation => "lower_and_strip_punctuation",
        Standardize::Lower => "lower",
        Standardize::StripPunctuation => "strip_punctuation",
        Standardize::None => "none",
    }
}

fn mode_name(m: OutputMode) -> &'static str {
    match m {
        OutputMode::Int => "int",
        OutputMode::MultiHot => "multi_hot",
        OutputMode::Count => "count",
    }
}

impl TextVectorization {
    /// The settings and vocabulary as `(key, value)` strings, keys `text_vectorization.*`
    /// (Keras's config names: `max_tokens`, `standardize`, `split`, `ngrams`, `output_mode`,
    /// `output_sequence_length`, `pad_to_max_tokens`, `vocabulary` one token a line), for a
    /// file's metadata; [`from_config_entries`](TextVectorization::from_config_entries) reads
    /// them back. Settings left unset are left out.
    ///
    /// ```
    /// use wgfit::text::TextVectorization;
    /// let mut tv = TextVectorization::new().max_tokens(10).output_sequence_length(3);
    /// tv.adapt(&["a b b", "c"])?;
    /// let entries: std::collections::HashMap<_, _> = tv.config_entries().into_iter().collect();
    /// assert_eq!(entries["text_vectorization.vocabulary"], "\n[UNK]\nb\nc\na");
    /// let copy = TextVectorization::from_config_entries(&entries)?;
    /// assert_eq!(copy.call(&["a c z"])?, tv.call(&["a c z"])?);
    /// # Ok::<(), wgfit::Error>(())
    /// ```
    pub fn config_entries(&self) -> Vec<(String, String)> {
        let (lookup, mut out) = (self.lookup(), Vec::new());
        let mut put = |k: &str, v: String| out.push((format!("{PREFIX}{k}"), v));
        if let Some(n) = lookup.max_tokens {
            put("max_tokens", n.to_string());
        }
        put(
            "standardize",
            standardize_name(self.standardize_mode()).into(),
        );
        put(
            "split",
            match self.split_mode() {
                Split::Whitespace => "whitespace",
                Split::Character => "character",
                Split::None => "none",
            }
            .into(),
        );
        if let Some(&n) = self.ngram_widths().last() {
            put("ngrams", n.to_string());
        }
        put("output_mode", mode_name(lookup.output_mode).into());
        if let Some(n) = self.sequence_length() {
            put("output_sequence_length", n.to_string());
        }
        put("pad_to_max_tokens", lookup.pad_to_max_tokens.to_string());
        if self.is_adapted() {
            put("vocabulary", join_tokens(&self.vocabulary()));
        }
        out
    }

    /// A vectorizer from [`config_entries`](TextVectorization::config_entries) (other keys
    /// are ignored). Errors: [`Error::Config`] for a value it cannot read.
    pub fn from_config_entries(entries: &HashMap<String, String>) -> Result<Self> {
        let get = |k: &str| entries.get(&format!("{PREFIX}{k}")).map(String::as_str);
        let number = |k: &str| -> Result<Option<usize>> {
            get(k)
                .map(|v| v.parse::<usize>().map_err(|_| bad(k, v)))
                .transpose()
        };
        let mut tv = TextVectorization::new();
        if let Some(n) = number("max_tokens")? {
            tv = tv.max_tokens(n);
        }
        tv = tv.standardize(match get("standardize") {
            None | Some("lower_and_strip_punctuation") => Standardize::LowerAndStripPunctuation,
            Some("lower") => Standardize::Lower,
            Some("strip_punctuation") => Standardize::StripPunctuation,
            Some("none") => Standardize::None,
            Some(v) => return Err(bad("standardize", v)),
        });
        tv = tv.split(match get("split") {
            None | Some("whitespace") => Split::Whitespace,
            Some("character") => Split::Character,
            Some("none") => Split::None,
            Some(v) => return Err(bad("split", v)),
        });
        if let Some(n) = number("ngrams")? {
            tv = tv.ngrams(n);
        }
        tv = tv.output_mode(match get("output_mode") {
            None | Some("int") => OutputMode::Int,
            Some("multi_hot") => OutputMode::MultiHot,
            Some("count") => OutputMode::Count,
            Some(v) => return Err(bad("output_mode", v)),
        });
        if let Some(n) = number("output_sequence_length")? {
            tv = tv.output_sequence_length(n);
        }
        tv = tv.pad_to_max_tokens(match get("pad_to_max_tokens") {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => return Err(bad("pad_to_max_tokens", v)),
        });
        if let Some(v) = get("vocabulary") {
            tv.set_vocabulary(split_tokens(v)?)?;
        }
        // Sizes out of range are refused here, at load, not at the first call.
        tv.check()?;
        Ok(tv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_with_line_breaks_and_backslashes_round_trip() {
        let tokens: Vec<String> = ["", "a\\nb", "line\nbreak", "\\", "é"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(split_tokens(&join_tokens(&tokens)).unwrap(), tokens);
        assert!(split_tokens("bad\\x").is_err());
    }
}
