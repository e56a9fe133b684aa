//! Text preprocessing, as Keras's preprocessing layers: [`TextVectorization`] (strings to
//! token ids), [`StringLookup`] and [`IntegerLookup`] (tokens to ids and back), and
//! [`TextModel`] (a vectorizer in front of a model, saved with its weights).
//!
//! They run on the host: a model's device graph holds f32 / u32 tensors, so strings become
//! ids before they reach it, as `fit` / `predict` on a [`TextModel`] do for each call. The
//! vocabulary order, ids, padding and standardisation are Keras 3's exactly (checked against
//! goldens from Keras in tests/keras_text.rs).

mod config;
mod farmhash;
mod index_lookup;
mod lookups;
mod model;
mod vectorization;

pub use index_lookup::{IndexLookup, OutputMode, Token};
pub use lookups::{IntegerLookup, StringLookup};
pub use model::TextModel;
pub use vectorization::{Split, Standardize, TextVectorization};

#[cfg(test)]
mod tests {
    use super::farmhash::fingerprint64;

    #[test]
    fn fingerprint_of_nothing_is_k2() {
        // FarmHash's Fingerprint64("") is its constant k2, the base every length mixes from.
        assert_eq!(fingerprint64(b""), 0x9ae1_6a3b_2f90_404f);
    }

    #[test]
    fn fingerprints_match_tensorflow_on_every_length_branch() {
        // tests/golden/text_lookup.json: tf.strings.to_hash_bucket_fast(s, 2^63 - 1).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/text_lookup.json");
        let golden: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = golden["fingerprint_mod_2_63_minus_1"].as_array().unwrap();
        assert!(cases.len() >= 20);
        for case in cases {
            let s = case[0].as_str().unwrap();
            let want = case[1].as_u64().unwrap();
            assert_eq!(
                fingerprint64(s.as_bytes()) % (u64::MAX >> 1),
                want,
                "{s:?} ({} bytes)",
                s.len()
            );
        }
    }
}
