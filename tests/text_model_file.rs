//! A `TextModel` in one whole-model file: `TextModel::save` keeps the vectorizer (settings and
//! vocabulary) beside the model's architecture, weights and optimizer state, and
//! `TextModel::load` gives back both, on the CPU reference and on the GPU, predicting from
//! strings as before and training on as an uninterrupted run would.

mod common;

use ndarray::arr2;
use wgfit::prelude::*;

const TEXTS: [&str; 8] = [
    "good fun film",
    "bad dull film",
    "fun and good",
    "dull, bad plot",
    "good!",
    "bad.",
    "a good plot",
    "not fun, dull",
];

fn labels() -> ndarray::Array2<f32> {
    arr2(&[[1.0], [0.0], [1.0], [0.0], [1.0], [0.0], [1.0], [0.0]])
}

fn text_model(device: &Device) -> TextModel<Sequential> {
    let mut tv = TextVectorization::new()
        .output_sequence_length(5)
        .max_tokens(12);
    tv.adapt(&TEXTS).unwrap();
    let model = Sequential::new()
        .seed(4)
        .add(Embedding::new(tv.vocabulary_size(), 4).mask_zero(true))
        .add(Lstm::new(3))
        .add(Dense::new(1).activation(Activation::Sigmoid));
    let mut model = TextModel::new(tv, model).unwrap();
    model
        .compile(
            device,
            Optimizer::adam().learning_rate(0.05),
            Loss::BinaryCrossentropy,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

fn epochs(from: usize, to: usize) -> FitOptions {
    FitOptions::new()
        .batch_size(3)
        .initial_epoch(from)
        .epochs(to)
        .verbose(0)
}

#[test]
fn a_text_model_file_gives_back_its_vectorizer_and_trains_on_as_if_never_stopped() {
    let dir = std::env::temp_dir().join(format!("wgfit-text-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let probe = ["good film", "dull plot", "words it never saw"];
    for device in [Some(Device::cpu()), common::gpu()].into_iter().flatten() {
        let path = dir.join("reviews.wgfit");
        let mut model = text_model(&device);
        model.fit(&TEXTS, &labels(), epochs(0, 3)).unwrap();
        model.save(&path).unwrap();

        let mut loaded = TextModel::load(&path, &device).unwrap();
        let case = device.info();
        assert_eq!(
            loaded.vectorizer().vocabulary(),
            model.vectorizer().vocabulary(),
            "{case}"
        );
        let want = model.predict(&probe).unwrap();
        assert_eq!(loaded.predict(&probe).unwrap(), want, "{case}");

        // The optimizer's state and the shuffle stream came back too.
        model.fit(&TEXTS, &labels(), epochs(3, 5)).unwrap();
        loaded.fit(&TEXTS, &labels(), epochs(3, 5)).unwrap();
        assert_eq!(
            loaded.model().get_weights().unwrap(),
            model.model().get_weights().unwrap(),
            "{case}: trained on from the file, the weights differ from an uninterrupted run"
        );

        // `load_model` opens the same file (saved after 3 epochs) and gives the model
        // alone, ids in.
        let mut plain = wgfit::load_model(&path, &device).unwrap();
        let ids = model.vectorize(&probe).unwrap();
        assert_eq!(plain.predict(&ids).unwrap(), want, "{case}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_model_file_without_a_vectorizer_is_refused_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("wgfit-text-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plain.wgfit");
    let model = text_model(&Device::cpu());
    model.model().save(&path).unwrap();
    let err = TextModel::load(&path, &Device::cpu()).unwrap_err();
    assert!(
        matches!(&err, Error::File { path: p, problem, .. }
            if p == &path && problem.contains("no TextVectorization")),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
