#!/usr/bin/env python3
"""Keras-trained text models (string Input -> TextVectorization -> ...) as `.keras` files, for
tests/keras_text_model_files.rs. Run by hand where TensorFlow and Keras 3 are installed (CI
only reads the files):

    TF_ENABLE_ONEDNN_OPTS=0 python tools/golden_keras_text_models.py tests/golden/keras_text_models

Each case adapts a TextVectorization on a small corpus, trains a few epochs, and writes
`<case>.keras` (`model.save`, vocabulary in its assets) and `<case>.json`: the texts of an
awkward-size batch (`texts`, with punctuation, upper case, unknown words and empty strings),
Keras's predictions for them (`pred`, nested lists) and Keras's version.
"""

import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

WORDS = ("good great fine bad awful poor movie film plot actor the a was is very not "
         "really story ending music").split()
# Texts Keras and wgfit must vectorize alike: case, punctuation, unknown words, empty.
TEXTS = ["The movie was GREAT!", "awful, awful plot.", "", "zebra unknown words",
         "a very very very long review of a film that is not really good at all but fine",
         "Music? Fine.", "poor"]


def corpus(rng, n):
    out = []
    for _ in range(n):
        k = int(rng.integers(1, 10))
        out.append(" ".join(rng.choice(WORDS, k)))
    return out


def cases():
    """(name, TextVectorization kwargs, body(vocab_size) -> layers, output units)"""
    return [
        ("text_int_lstm",
         dict(max_tokens=20, output_sequence_length=8),
         lambda v: [layers.Embedding(v, 6, mask_zero=True), layers.LSTM(5),
                    layers.Dense(1, activation="sigmoid")]),
        ("text_multi_hot_dense",
         dict(max_tokens=40, output_mode="multi_hot", ngrams=2, standardize="lower"),
         lambda v: [layers.Dense(4, activation="relu"), layers.Dense(3, activation="softmax")]),
        ("text_functional_gru",
         dict(max_tokens=30, output_sequence_length=6, split="whitespace"),
         None),
    ]


def functional(tv):
    """The functional API: string Input -> vectorizer -> Embedding -> GRU -> Dense."""
    text = keras.Input((1,), dtype="string", name="text")
    h = layers.Embedding(tv.vocabulary_size(), 5, mask_zero=True)(tv(text))
    h = layers.GRU(4)(h)
    return keras.Model(text, layers.Dense(2, activation="softmax")(h))


def run_case(outdir, name, options, body):
    rng = np.random.default_rng(len(name))
    keras.utils.set_random_seed(1)
    train = corpus(rng, 60)
    tv = layers.TextVectorization(**options)
    tv.adapt(train)
    model = functional(tv) if body is None else keras.Sequential(
        [keras.Input((1,), dtype="string"), tv, *body(tv.vocabulary_size())])
    units = model.output_shape[-1]
    y = rng.integers(0, max(units, 2), len(train)).astype(np.float32)
    loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
    model.compile(optimizer="adam", loss=loss)
    model.fit(tf.constant(train)[:, None], y, batch_size=8, epochs=3, verbose=0)
    path = os.path.join(outdir, f"{name}.keras")
    model.save(path)
    pred = model.predict(tf.constant(TEXTS)[:, None], verbose=0)
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump({"keras": keras.__version__, "texts": TEXTS,
                   "pred": np.asarray(pred, np.float64).tolist()}, f, indent=1)
        f.write("\n")
    print(f"{name}: {os.path.getsize(path)} bytes")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    outdir = argv[0] if argv else "tests/golden/keras_text_models"
    os.makedirs(outdir, exist_ok=True)
    for case in cases():
        run_case(outdir, *case)


if __name__ == "__main__":
    main()
