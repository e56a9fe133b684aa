//! Keras parity for text preprocessing (tests/golden/text_lookup.json, from
//! `tools/keras_golden.py text_lookup`): TextVectorization's tokens, vocabulary and ids on a
//! corpus with ties, punctuation, Unicode and every ASCII whitespace, for each setting;
//! StringLookup and IntegerLookup vocabularies, ids (mask, 0 / 1 / 2 OOV ids, multi-hot,
//! count) and inverse lookups. Strings and ids match exactly.

use serde_json::Value;
use wgfit::text::Standardize;
use wgfit::text::{
    IndexLookup, IntegerLookup, OutputMode, Split, StringLookup, TextVectorization, Token,
};

fn golden() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/text_lookup.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect()
}

fn rows<T>(v: &Value, each: impl Fn(&Value) -> Vec<T>) -> Vec<Vec<T>> {
    v.as_array().unwrap().iter().map(each).collect()
}

fn mode(kwargs: &Value) -> OutputMode {
    match kwargs["output_mode"].as_str() {
        None | Some("int") => OutputMode::Int,
        Some("multi_hot") => OutputMode::MultiHot,
        Some("count") => OutputMode::Count,
        Some(m) => panic!("mode {m}"),
    }
}

fn vectorizer(kwargs: &Value) -> TextVectorization {
    let mut tv = TextVectorization::new().output_mode(mode(kwargs));
    if let Some(n) = kwargs["max_tokens"].as_u64() {
        tv = tv.max_tokens(n as usize);
    }
    if let Some(n) = kwargs["output_sequence_length"].as_u64() {
        tv = tv.output_sequence_length(n as usize);
    }
    if let Some(n) = kwargs["ngrams"].as_u64() {
        tv = tv.ngrams(n as usize);
    }
    match kwargs.get("standardize") {
        None => tv,
        Some(Value::Null) => tv.standardize(Standardize::None),
        Some(v) if v == "lower" => tv.standardize(Standardize::Lower),
        Some(v) => panic!("standardize {v}"),
    }
}

#[test]
fn text_vectorization_matches_keras_for_every_setting() {
    let g = golden();
    let (corpus, queries) = (strings(&g["corpus"]), strings(&g["queries"]));
    for case in g["text_vectorization"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let kwargs = &case["kwargs"];
        let mut tv = vectorizer(kwargs);
        match &case["vocabulary_in"] {
            Value::Null => tv.adapt(&corpus).unwrap(),
            v => tv.set_vocabulary(strings(v)).unwrap(),
        }
        let tokens: Vec<Vec<String>> = queries.iter().map(|q| tv.tokens(q)).collect();
        assert_eq!(tokens, rows(&case["tokens"], strings), "{name}: tokens");
        assert_eq!(
            tv.vocabulary(),
            strings(&case["vocabulary"]),
            "{name}: vocabulary"
        );
        assert_eq!(
            tv.vocabulary_size(),
            case["vocabulary"].as_array().unwrap().len()
        );
        let expected = rows(&case["ids"], ints);
        if kwargs["ragged"] == true {
            let ids: Vec<Vec<i64>> = tv
                .call_ragged(&queries)
                .unwrap()
                .into_iter()
                .map(|r| r.into_iter().map(i64::from).collect())
                .collect();
            assert_eq!(ids, expected, "{name}: ragged ids");
        } else {
            let out = tv.call(&queries).unwrap();
            let ids: Vec<Vec<i64>> = out
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| v as i64).collect())
                .collect();
            assert_eq!(ids, expected, "{name}: ids");
        }
    }
}

fn check_lookup<K: Token>(
    family: &str,
    g: &Value,
    new: impl Fn(&Value) -> IndexLookup<K>,
    token: impl Fn(&Value) -> K + Copy,
) {
    let data: Vec<K> = g["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(token))
        .collect();
    for case in g["cases"].as_array().unwrap() {
        let name = format!("{family} {}", case["case"].as_str().unwrap());
        let mut lookup = new(&case["kwargs"]);
        match &case["vocabulary_in"] {
            Value::Null => lookup.adapt(data.clone()).unwrap(),
            v => lookup
                .set_vocabulary(v.as_array().unwrap().iter().map(token))
                .unwrap(),
        }
        let vocabulary: Vec<K> = case["vocabulary"]
            .as_array()
            .unwrap()
            .iter()
            .map(token)
            .collect();
        assert_eq!(lookup.vocabulary(), vocabulary, "{name}: vocabulary");
        let query: Vec<Vec<K>> = rows(&case["query"], |r| {
            r.as_array().unwrap().iter().map(token).collect()
        });
        let expected = rows(&case["ids"], ints);
        if lookup.mode() == OutputMode::Int {
            let ids: Vec<Vec<i64>> = query
                .iter()
                .map(|r| {
                    lookup
                        .ids(r.clone())
                        .unwrap()
                        .into_iter()
                        .map(i64::from)
                        .collect()
                })
                .collect();
            assert_eq!(ids, expected, "{name}: ids");
            let invert_ids: Vec<i64> = rows(&case["invert_query"], ints).concat();
            match (&case["invert"], lookup.invert(&invert_ids)) {
                (Value::Null, Err(e)) => {
                    assert!(e.to_string().contains("OOV token"), "{name}: {e}")
                }
                (v, Ok(tokens)) => {
                    let want: Vec<K> = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|r| r.as_array().unwrap().iter().map(token))
                        .collect();
                    assert_eq!(tokens, want, "{name}: invert");
                }
                (v, Err(e)) => panic!("{name}: invert failed ({e}) where Keras gives {v}"),
            }
        } else {
            let out = lookup.encode(query).unwrap();
            let got: Vec<Vec<i64>> = out
                .rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| v as i64).collect())
                .collect();
            assert_eq!(got, expected, "{name}: encoded");
        }
    }
}

#[test]
fn string_lookup_matches_keras() {
    let g = golden();
    let new = |kwargs: &Value| {
        let mut l = StringLookup::new().output_mode(mode(kwargs));
        if let Some(n) = kwargs["max_tokens"].as_u64() {
            l = l.max_tokens(n as usize);
        }
        if let Some(n) = kwargs["num_oov_indices"].as_u64() {
            l = l.num_oov_indices(n as usize);
        }
        if let Some(m) = kwargs["mask_token"].as_str() {
            l = l.mask_token(Some(m));
        }
        if let Some(o) = kwargs["oov_token"].as_str() {
            l = l.oov_token(o);
        }
        l
    };
    check_lookup("StringLookup", &g["string_lookup"], new, |v| {
        v.as_str().unwrap().to_string()
    });
}

#[test]
fn integer_lookup_matches_keras() {
    let g = golden();
    let new = |kwargs: &Value| {
        let mut l = IntegerLookup::new().output_mode(mode(kwargs));
        if let Some(n) = kwargs["max_tokens"].as_u64() {
            l = l.max_tokens(n as usize);
        }
        if let Some(n) = kwargs["num_oov_indices"].as_u64() {
            l = l.num_oov_indices(n as usize);
        }
        if let Some(m) = kwargs["mask_token"].as_i64() {
            l = l.mask_token(Some(m));
        }
        if let Some(o) = kwargs["oov_token"].as_i64() {
            l = l.oov_token(o);
        }
        l
    };
    check_lookup("IntegerLookup", &g["integer_lookup"], new, |v| {
        v.as_i64().unwrap()
    });
}

#[test]
fn character_split_and_no_split_give_unicode_characters_and_whole_texts() {
    // Not in the golden (Keras's own unicode_split): one token per char, whole text as one.
    let tv = TextVectorization::new().split(Split::Character);
    assert_eq!(tv.tokens("Né, 日!"), ["n", "é", " ", "日"]);
    let tv = TextVectorization::new().split(Split::None);
    assert_eq!(tv.tokens("A b."), ["a b"]);
}
