#!/usr/bin/env python3
"""Keras-trained models as `.keras` files, for the whole-model converter's tests
(tests/keras_model_files.rs) and the example examples/keras_vowels.rs.

Run by hand where TensorFlow and Keras 3 are installed (CI only reads the files):

    TF_ENABLE_ONEDNN_OPTS=0 python tools/golden_keras_models.py tests/golden/keras_models
    TF_ENABLE_ONEDNN_OPTS=0 python tools/golden_keras_models.py tests/golden/keras_models CASE ...

Each case builds a small model in Keras, trains it a few epochs on seeded random data (so its
weights are Keras's own, not initial ones), and writes `<case>.keras` (`model.save`) and
`<case>.safetensors`: an input batch of awkward size (`x`, or `x.0`, `x.1`, ... per model
input; token ids as float32; sequences post-padded with zeros), its targets (`y`, or `y.0`,
...), Keras's predictions for it (`pred`, or `pred.0`, ...) and Keras's `evaluate` loss on it
(`loss`, a scalar: the compile settings' loss, loss weights included). The case
`vowels_lstm` is trained on UCI Japanese Vowels
(examples/data); it also writes `vowels_lstm.json` (Keras's test-set accuracy) and
`vowels_lstm.wgfit` (converted by tools/keras_to_wgfit.py), which the example opens.
"""

import json
import os
import sys
import zlib

import numpy as np

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def padded(rng, n, features, lo=1, hi=9):
    """n post-padded sequences of random lengths lo..hi (at least one of each extreme)."""
    lengths = rng.integers(lo, hi + 1, n)
    lengths[0], lengths[-1] = lo, hi
    x = np.zeros((n, hi, features), np.float32)
    for i, t in enumerate(lengths):
        x[i, :t] = rng.normal(size=(t, features))
    return x


def tokens(rng, n, vocab, lo=1, hi=9):
    lengths = rng.integers(lo, hi + 1, n)
    x = np.zeros((n, hi), np.float32)
    for i, t in enumerate(lengths):
        x[i, :t] = rng.integers(1, vocab, t)
    return x


def seq(*ls, shape, dtype="float32"):
    return keras.Sequential([keras.Input(shape, dtype=dtype), *ls])


def classes(rng, n, k):
    return rng.integers(0, k, n).astype(np.float32)


def cases():
    """(name, build, loss, optimizer, inputs(rng, n), targets(rng, n))"""
    seqs = lambda f: lambda r, n: [padded(r, n, f)]  # noqa: E731
    binary = lambda r, n: classes(r, n, 2)  # noqa: E731
    return [
        ("masked_lstm", lambda: seq(layers.Masking(0.0), layers.LSTM(6),
                                    layers.Dense(1, activation="sigmoid"), shape=(None, 3)),
         "binary_crossentropy", "adam", seqs(3), binary),
        ("gru_reset_after", lambda: seq(layers.Masking(0.0), layers.GRU(5),
                                        layers.Dense(3, activation="softmax"), shape=(None, 4)),
         "sparse_categorical_crossentropy", "rmsprop", seqs(4), lambda r, n: classes(r, n, 3)),
        ("gru_reset_before", lambda: seq(layers.Masking(0.0), layers.GRU(5, reset_after=False),
                                         layers.Dense(1, activation="sigmoid"), shape=(None, 2)),
         "binary_crossentropy", keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
         seqs(2), binary),
        ("simple_rnn", lambda: seq(layers.Masking(0.0), layers.SimpleRNN(7),
                                   layers.Dense(2, activation="softmax"), shape=(None, 3)),
         "categorical_crossentropy", "adam", seqs(3),
         lambda r, n: np.eye(2, dtype=np.float32)[r.integers(0, 2, n)]),
        ("bidirectional_lstm_concat", lambda: seq(
            layers.Masking(0.0), layers.Bidirectional(layers.LSTM(4)),
            layers.Dense(1, activation="sigmoid"), shape=(None, 3)),
         "binary_crossentropy", "adam", seqs(3), binary),
        ("bidirectional_gru_sum", lambda: seq(
            layers.Masking(0.0),
            layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="sum"),
            layers.Dense(3, activation="softmax"), shape=(None, 3)),
         "sparse_categorical_crossentropy", "adam", seqs(3),
         lambda r, n: r.integers(0, 3, (n, 9)).astype(np.float32)),
        ("stacked_masked_lstm", lambda: seq(
            layers.Masking(0.0), layers.LSTM(5, return_sequences=True), layers.LSTM(4),
            layers.Dense(1, activation="sigmoid"), shape=(None, 3)),
         "binary_crossentropy", "adam", seqs(3), binary),
        ("embedding_lstm", lambda: seq(
            layers.Embedding(20, 6, mask_zero=True), layers.LSTM(5),
            layers.Dense(1, activation="sigmoid"), shape=(None,), dtype="int32"),
         "binary_crossentropy", "adam", lambda r, n: [tokens(r, n, 20)], binary),
        ("mlp_dropout", lambda: seq(
            layers.Dense(16, activation="relu"), layers.Dropout(0.3),
            layers.Dense(8, activation="tanh"), layers.Dense(3, activation="softmax"),
            shape=(8,)),
         "categorical_crossentropy", "adam",
         lambda r, n: [r.normal(size=(n, 8)).astype(np.float32)],
         lambda r, n: np.eye(3, dtype=np.float32)[r.integers(0, 3, n)]),
        ("normalization_lstm", None, "binary_crossentropy", "adam", seqs(3), binary),
        ("spatial_dropout_lstm", lambda: seq(
            layers.Masking(0.0), layers.SpatialDropout1D(0.2), layers.LSTM(4),
            layers.Dense(1, activation="sigmoid"), shape=(None, 3)),
         "binary_crossentropy", "adam", seqs(3), binary),
        ("two_inputs_concat", two_inputs_concat, "mean_squared_error", "adam",
         lambda r, n: [padded(r, n, 3), r.normal(size=(n, 5)).astype(np.float32)],
         lambda r, n: r.normal(size=(n, 2)).astype(np.float32)),
        ("two_inputs_add", two_inputs_add, "binary_crossentropy", "rmsprop",
         lambda r, n: [r.normal(size=(n, 6)).astype(np.float32) for _ in range(2)], binary),
        ("seq2seq_lstm", seq2seq, "sparse_categorical_crossentropy", "adam",
         lambda r, n: [padded(r, n, 3), padded(r, n, 2)],
         lambda r, n: r.integers(0, 3, (n, 9)).astype(np.float32)),
        ("bidirectional_simple_rnn_ave", lambda: seq(
            layers.Masking(0.0), layers.Bidirectional(layers.SimpleRNN(3), merge_mode="ave"),
            layers.Dense(1, activation="sigmoid"), shape=(None, 2)),
         "binary_crossentropy", "sgd", seqs(2), binary),
        ("bidirectional_gru_states", bidirectional_gru_states, "sparse_categorical_crossentropy",
         "adam", lambda r, n: [padded(r, n, 3), padded(r, n, 2)],
         lambda r, n: r.integers(0, 3, (n, 9)).astype(np.float32)),
        ("merges_shared_two_outputs", merges_shared_two_outputs,
         {"cls": "categorical_crossentropy", "reg": "mean_squared_error"}, "adam",
         lambda r, n: [r.normal(size=(n, 6)).astype(np.float32) for _ in range(2)],
         lambda r, n: [np.eye(2, dtype=np.float32)[r.integers(0, 2, n)],
                       r.normal(size=(n, 1)).astype(np.float32)]),
    ]


def normalization_lstm(x):
    norm = layers.Normalization()
    norm.adapt(x[:, :5] * 3.0 + 1.0)
    return seq(norm, layers.LSTM(4), layers.Dense(1, activation="sigmoid"), shape=(None, 3))


def two_inputs_concat():
    a = keras.Input((None, 3), name="steps")
    b = keras.Input((5,), name="extra")
    h = layers.LSTM(4)(layers.Masking(0.0)(a))
    d = layers.Dense(4, activation="relu")(b)
    out = layers.Dense(2)(layers.Concatenate()([h, d]))
    return keras.Model([a, b], out)


def two_inputs_add():
    a, b = keras.Input((6,), name="left"), keras.Input((6,), name="right")
    s = layers.Add()([layers.Dense(4, activation="tanh")(a), layers.Dense(4)(b)])
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid")(s))


def seq2seq():
    src, tgt = keras.Input((None, 3), name="source"), keras.Input((None, 2), name="target")
    _, h, c = layers.LSTM(5, return_state=True)(layers.Masking(0.0)(src))
    d = layers.LSTM(5, return_sequences=True)(tgt, initial_state=[h, c])
    return keras.Model([src, tgt], layers.Dense(3, activation="softmax")(d))


def bidirectional_gru_states():
    """A Bidirectional GRU encoder's two final states start a Bidirectional GRU decoder."""
    src, tgt = keras.Input((None, 3), name="source"), keras.Input((None, 2), name="target")
    _, h_forward, h_backward = layers.Bidirectional(layers.GRU(4, return_state=True))(
        layers.Masking(0.0)(src))
    d = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="sum")(
        tgt, initial_state=[h_forward, h_backward])
    return keras.Model([src, tgt], layers.Dense(3, activation="softmax")(d))


def merges_shared_two_outputs():
    """A shared Dense (no bias) on two inputs, every elementwise merge, two named outputs
    compiled with a loss, loss weight and metrics each."""
    a, b = keras.Input((6,), name="left"), keras.Input((6,), name="right")
    shared = layers.Dense(4, activation="tanh", use_bias=False)
    sa, sb = shared(a), shared(b)
    merged = [m()([sa, sb]) for m in (layers.Subtract, layers.Multiply, layers.Average,
                                      layers.Maximum, layers.Minimum)]
    joined = layers.Flatten()(layers.Concatenate()(merged))
    cls = layers.Dense(2, activation="softmax", name="cls")(joined)
    reg = layers.Dense(1, name="reg")(layers.Add()([sa, sb]))
    return keras.Model([a, b], [cls, reg])


def record(outdir, name, model, x, y):
    model.save(os.path.join(outdir, f"{name}.keras"))
    one = lambda a: a if len(a) > 1 else a[0]  # noqa: E731
    pred = model.predict(one(x), verbose=0)
    preds = pred if isinstance(pred, list) else [pred]
    ys = y if isinstance(y, list) else [y]
    loss = model.evaluate(one(x), one(ys), verbose=0, return_dict=True)["loss"]
    tensors = {"loss": np.array(loss, np.float32)}
    for base, arrays in (("x", x), ("y", ys), ("pred", preds)):
        for k, a in enumerate(arrays):
            key = base if len(arrays) == 1 else f"{base}.{k}"
            tensors[key] = np.ascontiguousarray(a, np.float32)
    save_file(tensors, os.path.join(outdir, f"{name}.safetensors"))
    size = os.path.getsize(os.path.join(outdir, f"{name}.keras"))
    print(f"{name}: {size} bytes (.keras)")


def run_case(outdir, name, build, loss, opt, inputs, targets):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    keras.utils.set_random_seed(1)
    x_train, y_train = inputs(rng, 40), targets(rng, 40)
    model = normalization_lstm(x_train[0]) if build is None else build()
    metrics = ({"cls": ["accuracy"]} if isinstance(loss, dict)
               else ["accuracy"] if "cross" in loss else [])
    weights = {"cls": 1.0, "reg": 0.5} if isinstance(loss, dict) else None
    model.compile(optimizer=opt, loss=loss, loss_weights=weights, metrics=metrics)
    model.fit(x_train if len(x_train) > 1 else x_train[0], y_train, batch_size=8, epochs=3,
              verbose=0)
    record(outdir, name, model, inputs(rng, 7), targets(rng, 7))


def read_ts(path):
    """A .ts file's utterances ([T, 12] each) and class ids 0-8 (labels 1-9)."""
    xs, ys, data = [], [], False
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower() == "@data":
                data = True
                continue
            if data:
                *dims, label = line.split(":")
                xs.append(np.array([[float(v) for v in d.split(",")] for d in dims],
                                   np.float32).T)
                ys.append(int(label) - 1)
    return xs, np.array(ys, np.float32)


def pad(xs, t):
    out = np.zeros((len(xs), t, xs[0].shape[1]), np.float32)
    for i, s in enumerate(xs):
        out[i, :len(s)] = s
    return out


def run_vowels(outdir):
    """Masking -> Normalization (adapted on the training steps) -> LSTM(32) -> Dense(9)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras_to_wgfit

    train, y_train = read_ts(os.path.join(ROOT, "examples/data/JapaneseVowels_TRAIN.ts"))
    test, y_test = read_ts(os.path.join(ROOT, "examples/data/JapaneseVowels_TEST.ts"))
    t = max(len(s) for s in train + test)
    keras.utils.set_random_seed(0)
    norm = layers.Normalization()
    norm.adapt(np.concatenate(train))
    model = seq(layers.Masking(0.0), norm, layers.LSTM(32),
                layers.Dense(9, activation="softmax"), shape=(None, 12))
    model.compile(optimizer=keras.optimizers.Adam(0.005),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(pad(train, t), y_train, batch_size=32, epochs=30, verbose=0)
    loss, accuracy = model.evaluate(pad(test, t), y_test, batch_size=32, verbose=0)
    name = "vowels_lstm"
    record(outdir, name, model, [pad(test[:16], t)], y_test[:16])
    keras_to_wgfit.main([os.path.join(outdir, f"{name}.keras"),
                         os.path.join(outdir, f"{name}.wgfit")])
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump({"keras": keras.__version__, "backend": keras.backend.backend(),
                   "test_loss": float(loss), "test_accuracy": float(accuracy),
                   "test_samples": len(test), "padding": "post", "epochs": 30}, f, indent=1)
        f.write("\n")
    print(f"{name}: Keras test accuracy {accuracy:.4f}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    outdir = argv[0] if argv else os.path.join(ROOT, "tests/golden/keras_models")
    wanted = set(argv[1:])
    os.makedirs(outdir, exist_ok=True)
    known = [c[0] for c in cases()] + ["vowels_lstm"]
    if wanted - set(known):
        sys.exit(f"unknown case(s) {sorted(wanted - set(known))}; known: {known}")
    for case in cases():
        if not wanted or case[0] in wanted:
            run_case(outdir, *case)
    if not wanted or "vowels_lstm" in wanted:
        run_vowels(outdir)


if __name__ == "__main__":
    main()
