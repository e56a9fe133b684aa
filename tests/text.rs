//! Text preprocessing beyond the Keras goldens (tests/keras_text.rs): typed errors for what a
//! user can get wrong, no panic on any string, ragged ids into a SequenceDataset, and a
//! TextModel that trains on both devices and saves its vocabulary with its weights.

mod common;

use ndarray::{Array2, arr2};
use proptest::prelude::*;
use wgfit::data::SequenceDataset;
use wgfit::prelude::*;
use wgfit::text::{OutputMode, Split, Standardize};

#[test]
fn a_vectorizer_without_vocabulary_says_to_adapt() {
    let tv = TextVectorization::new();
    let err = tv.call(&["some text"]).unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("call adapt")),
        "{err}"
    );
    let err = TextModel::new(tv, Sequential::new()).unwrap_err();
    assert!(err.to_string().contains("adapt"), "{err}");
}

#[test]
fn bad_settings_are_config_errors() {
    let err = TextVectorization::new()
        .max_tokens(1)
        .adapt(&["a b"])
        .unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("max_tokens must be greater than 1")));
    // 2 ids are the padding and OOV ids: no room for a token.
    let err = TextVectorization::new()
        .max_tokens(2)
        .adapt(&["a b"])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("no room")),
        "{err}"
    );
    let err = TextVectorization::new()
        .output_mode(OutputMode::Count)
        .output_sequence_length(3)
        .adapt(&["a"])
        .unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("output_sequence_length")));
    let err = StringLookup::new()
        .pad_to_max_tokens(true)
        .adapt(["a"])
        .unwrap_err();
    assert!(matches!(&err, Error::Config(m) if m.contains("pad_to_max_tokens needs max_tokens")));
    // A max_tokens set after a larger vocabulary: refused, never an index past the row.
    let given = StringLookup::new()
        .output_mode(OutputMode::MultiHot)
        .with_vocabulary(["a", "b", "c"])
        .unwrap();
    let err = given
        .max_tokens(2)
        .pad_to_max_tokens(true)
        .encode([["c"]])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("more than max_tokens 2")),
        "{err}"
    );
}

#[test]
fn adapting_on_texts_without_tokens_is_an_empty_error() {
    for texts in [&[][..], &["", "  \t "][..], &["!!!", "?.,"][..]] {
        let err = TextVectorization::new().adapt(texts).unwrap_err();
        assert!(matches!(err, Error::Empty { .. }), "{texts:?}: {err}");
    }
    // The OOV token is never learnt, so data of OOV tokens alone has nothing either.
    assert!(matches!(
        StringLookup::new().adapt(["[UNK]"]),
        Err(Error::Empty { .. })
    ));
}

#[test]
fn an_unknown_token_without_oov_ids_names_its_sample_and_position() {
    let lookup = StringLookup::new()
        .num_oov_indices(0)
        .with_vocabulary(["a", "b"])
        .unwrap();
    assert_eq!(lookup.ids(["b", "a"]).unwrap(), [1, 0]);
    let err = lookup.ids(["a", "zebra"]).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::Data(_)) && msg.contains("position 1") && msg.contains("\"zebra\""),
        "{msg}"
    );
    assert!(msg.contains("num_oov_indices(1)"), "{msg}");
}

#[test]
fn bad_vocabularies_are_refused_and_a_given_one_cannot_be_adapted() {
    let err = StringLookup::new()
        .with_vocabulary(["a", "b", "a"])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("repeats \"a\" (entries 0 and 2)")),
        "{err}"
    );
    let err = StringLookup::new()
        .mask_token(Some(""))
        .with_vocabulary(["a", ""])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("mask token")),
        "{err}"
    );
    let err = IntegerLookup::new()
        .max_tokens(3)
        .with_vocabulary([1, 2, 3])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("more than max_tokens 3")),
        "{err}"
    );
    let empty: [&str; 0] = [];
    assert!(StringLookup::new().with_vocabulary(empty).is_err());
    let mut given = TextVectorization::new().with_vocabulary(["cat"]).unwrap();
    assert!(matches!(given.adapt(&["dog"]), Err(Error::Config(m)) if m.contains("cannot adapt")));
    assert_eq!(given.vocabulary(), ["", "[UNK]", "cat"]);
}

#[test]
fn ragged_ids_feed_a_sequence_dataset_padded_per_batch() {
    let mut tv = TextVectorization::new();
    tv.adapt(&["a b c d e", "a b", "c"]).unwrap();
    let ids = tv
        .call_ragged(&["a b c d e", "a b", "c", "e e e e"])
        .unwrap();
    assert_eq!(ids.iter().map(Vec::len).collect::<Vec<_>>(), [5, 2, 1, 4]);
    let ds = SequenceDataset::from_sequences(&ids, vec![0usize, 1, 0, 1])
        .unwrap()
        .batch_size(2);
    let (x, _) = ds.padded_batch(&[1, 2]);
    // Padded to the batch's own longest text with 0, the mask id of Embedding(mask_zero).
    assert_eq!(
        x,
        arr2(&[
            [ids[1][0] as f32, ids[1][1] as f32],
            [ids[2][0] as f32, 0.0]
        ])
        .into_dyn()
    );
    // SequenceDataset::new takes the same containers.
    assert_eq!(
        SequenceDataset::new(ids.clone(), vec![0usize; 4])
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn multi_hot_and_count_rows_have_one_column_per_id() {
    let mut tv = TextVectorization::new()
        .output_mode(OutputMode::Count)
        .max_tokens(4)
        .pad_to_max_tokens(true);
    tv.adapt(&["b b b a a c"]).unwrap();
    assert_eq!(tv.vocabulary(), ["[UNK]", "b", "a", "c"]);
    assert_eq!(
        tv.call(&["a a zz b"]).unwrap(),
        arr2(&[[1.0, 1.0, 2.0, 0.0]])
    );
    let mut hot = TextVectorization::new().output_mode(OutputMode::MultiHot);
    hot.adapt(&["b b a"]).unwrap();
    assert_eq!(
        hot.call(&["a a", ""]).unwrap(),
        arr2(&[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_string_makes_the_vectorizer_panic(texts in prop::collection::vec(".{0,40}", 0..6), seq in 1usize..5) {
        for split in [Split::Whitespace, Split::Character, Split::None] {
            for standardize in [Standardize::LowerAndStripPunctuation, Standardize::None] {
                let mut tv = TextVectorization::new().split(split).standardize(standardize).ngrams(2).max_tokens(12);
                match tv.adapt(&texts) {
                    Ok(()) => {
                        let out = tv.clone().output_sequence_length(seq).call(&texts).unwrap();
                        prop_assert_eq!(out.dim(), (texts.len(), seq));
                        prop_assert!(out.iter().all(|&id| (id as usize) < tv.vocabulary_size()));
                        tv.call_ragged(&texts).unwrap();
                    }
                    Err(e) => prop_assert!(matches!(e, Error::Empty { .. }), "{}", e),
                }
            }
        }
    }
}

fn corpus() -> (Vec<&'static str>, Array2<f32>) {
    let texts = vec![
        "good fun film",
        "bad dull film",
        "fun and good",
        "dull, bad plot",
        "good!",
        "bad.",
    ];
    (texts, arr2(&[[1.0], [0.0], [1.0], [0.0], [1.0], [0.0]]))
}

fn text_model(device: &Device, tv: TextVectorization) -> TextModel<Sequential> {
    let model = Sequential::new()
        .seed(3)
        .add(Embedding::new(tv.vocabulary_size(), 4).mask_zero(true))
        .add(Gru::new(3))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    let mut model = TextModel::new(tv, model).unwrap();
    model
        .compile(
            device,
            Optimizer::adam().learning_rate(0.05),
            Loss::BinaryCrossentropy,
            &[],
        )
        .unwrap();
    model
}

#[test]
fn a_text_model_trains_alike_on_both_devices() {
    let (texts, y) = corpus();
    let mut tv = TextVectorization::new();
    tv.adapt(&texts).unwrap();
    let mut preds = Vec::new();
    for device in [Some(Device::cpu()), common::gpu()].into_iter().flatten() {
        let mut model = text_model(&device, tv.clone());
        let history = model
            .fit(
                &texts,
                &y,
                FitOptions::new().epochs(20).shuffle(false).verbose(0),
            )
            .unwrap();
        assert!(
            history.loss()[19] < history.loss()[0],
            "{}: loss did not fall",
            device.info()
        );
        preds.push(
            model
                .predict(&["good film", "dull plot", "unseen words"])
                .unwrap(),
        );
    }
    if let [cpu, gpu] = &preds[..] {
        assert!(
            cpu.iter().zip(gpu).all(|(a, b)| (a - b).abs() < 1e-4),
            "{cpu} vs {gpu}"
        );
    }
}

#[test]
fn a_text_model_saves_its_vocabulary_with_its_weights() {
    let dir = std::env::temp_dir().join(format!("wgfit-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reviews.safetensors");
    let (texts, y) = corpus();
    let mut tv = TextVectorization::new()
        .output_sequence_length(5)
        .max_tokens(9);
    tv.adapt(&texts).unwrap();
    let mut model = text_model(&Device::cpu(), tv.clone());
    model
        .fit(&texts, &y, FitOptions::new().epochs(3).verbose(0))
        .unwrap();
    model.save_weights(&path).unwrap();
    let probe = ["good plot", "dull fun film"];
    let want = model.predict(&probe).unwrap();

    // Another program: the vectorizer comes back first, to size the Embedding.
    let restored = TextVectorization::from_weights_file(&path).unwrap();
    assert_eq!(restored.vocabulary(), tv.vocabulary());
    assert_eq!(restored.call(&probe).unwrap(), tv.call(&probe).unwrap());
    let mut fresh = text_model(
        &Device::cpu(),
        TextVectorization::new().with_vocabulary(["x"]).unwrap(),
    );
    assert!(
        fresh.load_weights(&path).is_err(),
        "an Embedding of another size must be refused"
    );
    let mut copy = text_model(&Device::cpu(), restored);
    assert_ne!(copy.predict(&probe).unwrap(), want);
    copy.load_weights(&path).unwrap();
    assert_eq!(copy.predict(&probe).unwrap(), want);
    // The file is still a plain weights file for Model::load_weights.
    copy.model_mut().load_weights(&path).unwrap();

    // A weights file without a vectorizer says so.
    let plain = dir.join("plain.safetensors");
    model.model().save_weights(&plain).unwrap();
    let err = TextVectorization::from_weights_file(&plain).unwrap_err();
    assert!(
        matches!(&err, Error::File { problem, .. } if problem.contains("no TextVectorization")),
        "{err}"
    );
    assert!(copy.load_weights(&plain).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_past_their_limits_are_config_errors_not_allocations() {
    // From a user: refused at the first use, before anything the size asks for is allocated.
    let mut huge = TextVectorization::new().ngrams(usize::MAX);
    assert!(matches!(huge.adapt(&["a b"]), Err(Error::Config(m)) if m.contains("ngrams")));
    let mut long = TextVectorization::new().output_sequence_length(usize::MAX / 2);
    assert!(
        matches!(long.adapt(&["a b"]), Err(Error::Config(m)) if m.contains("output_sequence_length"))
    );
    // From a file's metadata: refused when read.
    let mut tv = TextVectorization::new().output_sequence_length(3);
    tv.adapt(&["a b c"]).unwrap();
    for (key, value) in [
        ("ngrams", "1000000000000"),
        ("output_sequence_length", "1000000000000"),
        ("max_tokens", "1000000000000"),
    ] {
        let mut entries: std::collections::HashMap<_, _> =
            tv.config_entries().into_iter().collect();
        let name = entries
            .keys()
            .find(|k| k.ends_with(key))
            .cloned()
            .unwrap_or_else(|| format!("text_vectorization.{key}"));
        entries.insert(name, value.to_string());
        let err = TextVectorization::from_config_entries(&entries).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains(key)),
            "{key}: {err}"
        );
    }
}
