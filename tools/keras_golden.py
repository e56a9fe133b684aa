#!/usr/bin/env python3
"""Golden data from Keras itself, for wgfit's parity tests (tests/keras_parity.rs).

Run by hand where TensorFlow 2.x / Keras 3 are installed (this script installs nothing):

    pip install tensorflow-cpu safetensors     # once, in a virtual environment
    TF_ENABLE_ONEDNN_OPTS=0 python tools/keras_golden.py tests/golden

For each case it builds the model in Keras, sets known initial weights (drawn from a seeded
generator), and records: the predictions before training; the loss and the gradients of the
first batch; the weights after one `train_on_batch`; the history and the weights after
`fit(epochs=2, shuffle=False)` (each from the initial weights, with a fresh optimizer). Cases in
`JAX_CASES` run on Keras's JAX backend (see there why), the rest on TensorFlow. The
`bucketed_*` case fits on batches of different time lengths, served by a `keras.utils.PyDataset`
in the order wgfit's `SequenceDataset` (bucketed, not shuffled) makes them.

Output per case: `<case>.safetensors` (tensors `x`, `y`, `pred`, and `init.*`, `grad.*`,
`step1.*`, `final.*` under wgfit's weight names `layers.{i}.{kind}.{role}`) and `<case>.json`
(the settings, the losses, the history and the Keras and TensorFlow versions). CI reads these
files and never needs TensorFlow. The `graph_*` cases are functional-API models with several
inputs, several outputs, shared and merge layers; they add `x.0`, `x.1`, ... / `y.0`, `pred.0`,
... and more JSON keys (see `graph_cases` and tests/golden/README.md). The `weighted_*` cases
(`weighted_cases`) are in the same format and fit with `sample_weight`: they add the tensor
`sample_weight` and check, by asserts, how Keras uses the weights (see there).

    python tools/keras_golden.py tests/golden                  # every case
    python tools/keras_golden.py tests/golden graph_shared_layer graph_time_concat   # these only
"""

import json
import os
import subprocess
import sys
import zlib

import numpy as np

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.backend import get_keras_mask  # noqa: E402  (no public name for a mask)
from safetensors.numpy import save_file  # noqa: E402

KINDS = {"Dense": "dense", "LSTM": "lstm", "Embedding": "embedding", "Flatten": "flatten",
         "Masking": "masking", "Concatenate": "concatenate", "Add": "add",
         "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
         "Maximum": "maximum", "Minimum": "minimum"}
KINDS["Bidirectional"] = "bidirectional"
ROLES = {"dense": ["kernel", "bias"], "lstm": ["kernel", "recurrent_kernel", "bias"],
         "embedding": ["embeddings"]}
KINDS["GRU"] = "gru"
ROLES["gru"] = ["kernel", "recurrent_kernel", "bias"]
KINDS["SimpleRNN"] = "simple_rnn"
KINDS["Normalization"] = "normalization"
ROLES["simple_rnn"] = ["kernel", "recurrent_kernel", "bias"]


def real_layers(model):
    """`model.layers` without the InputLayers: index `i` here is wgfit's `layers.{i}`."""
    return [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def wgfit_names(model):
    """wgfit's weight names, in the order of `model.trainable_variables` (checked variable by
    variable: a layer applied twice is one entry of `model.layers`, its weights listed once)."""
    names, variables = [], []
    for i, layer in enumerate(real_layers(model)):
        kind = KINDS[type(layer).__name__]
        roles = bidirectional_roles(layer) if kind == "bidirectional" else ROLES.get(kind, [])
        assert [v.name for v in layer.trainable_variables] == [r.split(".")[-1] for r in roles], (
            layer, roles)
        names.extend(f"layers.{i}.{kind}.{role}" for role in roles)
        variables.extend(layer.trainable_variables)
    assert [id(v) for v in variables] == [id(v) for v in model.trainable_variables], (
        names, model.trainable_variables)
    return names


def known_weights(model, rng):
    """Glorot-scaled uniform kernels and small non-zero biases, so every term is exercised."""
    out = []
    for v in model.trainable_variables:
        shape = tuple(v.shape)
        if len(shape) == 1:
            out.append(rng.uniform(-0.2, 0.2, shape).astype(np.float32))
        else:
            limit = np.sqrt(6.0 / (shape[0] + shape[-1]))
            out.append(rng.uniform(-limit, limit, shape).astype(np.float32))
    return out


def sequences(rng, n, lengths, features, padding):
    """n sequences of random lengths, features in +-[0.1, 1] (never the mask value 0), padded."""
    lens = rng.integers(lengths[0], lengths[1] + 1, n)
    t = lens.max()
    x = np.zeros((n, t, features), np.float32)
    for i, length in enumerate(lens):
        s = rng.uniform(0.1, 1.0, (length, features)) * rng.choice([-1, 1], (length, features))
        if padding == "post":
            x[i, :length] = s
        else:
            x[i, t - length:] = s
    return x, lens


def token_sequences(rng, n, lengths, vocab, maxlen=None):
    lens = rng.integers(lengths[0], lengths[1] + 1, n)
    t = maxlen or lens.max()
    x = np.zeros((n, t), np.float32)
    for i, length in enumerate(lens):
        x[i, :length] = rng.integers(1, vocab, length)
    return x, lens


def optimizer(spec):
    kind, kw = spec
    return {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
            "rmsprop": keras.optimizers.RMSprop}[kind](**kw)


class Batches(keras.utils.PyDataset):
    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        return self.batches[i]


def bucketed_batches(xs, y, batch_size):
    """wgfit's SequenceDataset with shuffle(false): sort by length (stable), chunk, pad post."""
    order = sorted(range(len(xs)), key=lambda i: len(xs[i]))
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        t = max(len(xs[i]) for i in idx)
        xb = np.zeros((len(idx), t, xs[0].shape[1]), np.float32)
        for row, i in enumerate(idx):
            xb[row, :len(xs[i])] = xs[i]
        batches.append((xb, y[idx]))
    return batches


def cases():
    """(name, builder, loss, optimizer, batch_size, metrics, x, y, note) for each case."""
    rng = np.random.default_rng(20261125)
    out = []

    # The seed's first program: Flatten -> Dense relu -> Dense softmax, Adam, categorical
    # crossentropy (a smaller image, so the files stay small). 37 samples: the last batch is 5.
    x = rng.normal(size=(37, 6, 7)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 37)]
    out.append(("mlp_adam_cce", lambda: keras.Sequential([
        keras.Input((6, 7)), layers.Flatten(), layers.Dense(16, activation="relu"),
        layers.Dense(10, activation="softmax")]),
        "categorical_crossentropy", ("adam", {"learning_rate": 0.001}), 8, ["accuracy"], x, y))

    # Dense tanh -> linear, mean squared error, SGD with Nesterov momentum.
    x = rng.normal(size=(30, 5)).astype(np.float32)
    y = rng.normal(size=(30, 2)).astype(np.float32)
    out.append(("mlp_sgd_nesterov_mse", lambda: keras.Sequential([
        keras.Input((5,)), layers.Dense(8, activation="tanh"), layers.Dense(2)]),
        "mean_squared_error",
        ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}), 7, [], x, y))

    # The seed's second program: Embedding (no mask) -> LSTM -> Dense sigmoid, Adam, BCE.
    x, _ = token_sequences(rng, 22, (1, 4), 10, maxlen=4)
    y = rng.integers(0, 2, (22, 1)).astype(np.float32)
    out.append(("embedding_lstm_adam_bce", lambda: keras.Sequential([
        keras.Input((4,)), layers.Embedding(10, 8), layers.LSTM(6),
        layers.Dense(1, activation="sigmoid")]),
        "binary_crossentropy", ("adam", {"learning_rate": 0.001}), 4, ["accuracy"], x, y))

    # The seed's third program: Input(None, F) -> Masking -> LSTM -> Dense sigmoid, post-padded.
    for padding, opt in [("post", ("adam", {"learning_rate": 0.001})),
                         ("pre", ("rmsprop", {"learning_rate": 0.001}))]:
        x, _ = sequences(rng, 21, (2, 7), 10, padding)
        y = rng.integers(0, 2, (21, 1)).astype(np.float32)
        out.append((f"masked_lstm_{padding}_{opt[0]}_bce", lambda: keras.Model(*chain(
            keras.Input((None, 10)), layers.Masking(0.0), layers.LSTM(5),
            layers.Dense(1, activation="sigmoid"))),
            "binary_crossentropy", opt, 4, ["accuracy"], x, y))

    # Embedding(mask_zero) -> LSTM -> softmax, sparse categorical crossentropy, SGD momentum.
    x, _ = token_sequences(rng, 19, (2, 8), 12)
    y = rng.integers(0, 4, (19,)).astype(np.float32)
    out.append(("embedding_mask_zero_sgd_scce", lambda: keras.Sequential([
        keras.Input((None,)), layers.Embedding(12, 6, mask_zero=True), layers.LSTM(7),
        layers.Dense(4, activation="softmax")]),
        "sparse_categorical_crossentropy", ("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
        5, ["accuracy"], x, y))

    # LSTM(return_sequences) -> Dense softmax per step, a masked sequence loss, RMSprop.
    x, lens = sequences(rng, 17, (2, 6), 3, "post")
    y = rng.integers(0, 3, x.shape[:2]).astype(np.float32)
    out.append(("lstm_sequences_rmsprop_scce", lambda: keras.Model(*chain(
        keras.Input((None, 3)), layers.Masking(0.0), layers.LSTM(6, return_sequences=True),
        layers.Dense(3, activation="softmax"))),
        "sparse_categorical_crossentropy", ("rmsprop", {"learning_rate": 0.001}), 4,
        ["accuracy"], x, y))
    return out


def gru_cases():
    """Masked GRUs: Masking -> GRU(5) -> Dense sigmoid with reset_after true (bias [2, 3u]) and
    false (bias [3u]), each on post- and pre-padded batches; and Masking -> GRU(6,
    return_sequences) -> Dense softmax per step, a masked sequence loss."""
    rng = np.random.default_rng(20261202)
    out = []
    for reset_after, padding, opt in [
            (True, "post", ("adam", {"learning_rate": 0.001})),
            (True, "pre", ("rmsprop", {"learning_rate": 0.001})),
            (False, "post", ("rmsprop", {"learning_rate": 0.001})),
            (False, "pre", ("adam", {"learning_rate": 0.001}))]:
        x, _ = sequences(rng, 21, (2, 7), 10, padding)
        y = rng.integers(0, 2, (21, 1)).astype(np.float32)
        variant = "after" if reset_after else "before"
        out.append((f"masked_gru_{variant}_{padding}_{opt[0]}_bce",
                    lambda reset_after=reset_after: keras.Model(*chain(
                        keras.Input((None, 10)), layers.Masking(0.0),
                        layers.GRU(5, reset_after=reset_after),
                        layers.Dense(1, activation="sigmoid"))),
                    "binary_crossentropy", opt, 4, ["accuracy"], x, y))
    x, _ = sequences(rng, 17, (2, 6), 3, "pre")
    y = rng.integers(0, 3, x.shape[:2]).astype(np.float32)
    out.append(("gru_sequences_adam_scce", lambda: keras.Model(*chain(
        keras.Input((None, 3)), layers.Masking(0.0), layers.GRU(6, return_sequences=True),
        layers.Dense(3, activation="softmax"))),
        "sparse_categorical_crossentropy", ("adam", {"learning_rate": 0.001}), 4,
        ["accuracy"], x, y))
    return out


def simple_rnn_cases():
    """Masking -> SimpleRNN(5) -> Dense sigmoid on post- and pre-padded batches."""
    rng = np.random.default_rng(20261203)
    out = []
    for padding, opt in [("post", ("adam", {"learning_rate": 0.001})),
                         ("pre", ("rmsprop", {"learning_rate": 0.001}))]:
        x, _ = sequences(rng, 21, (2, 7), 10, padding)
        y = rng.integers(0, 2, (21, 1)).astype(np.float32)
        out.append((f"masked_simple_rnn_{padding}_{opt[0]}_bce", lambda: keras.Model(*chain(
            keras.Input((None, 10)), layers.Masking(0.0), layers.SimpleRNN(5),
            layers.Dense(1, activation="sigmoid"))),
            "binary_crossentropy", opt, 4, ["accuracy"], x, y))
    return out


def chain(inputs, *ls):
    h = inputs
    for layer in ls:
        h = layer(h)
    return inputs, h


# ---------------------------------------------------------------------------------------------
# Graph (functional API) models: several inputs, several outputs, shared layers, merge layers.
#
# Format additions (tests/golden/README.md): with several inputs the tensors are `x.0`, `x.1`,
# ... in the order of `model.inputs`; with several outputs `y.0`, `pred.0`, ... in the order of
# `model.outputs`; a single input or output keeps `x`, `y`, `pred`. Weight names are
# `layers.{i}.{kind}.{role}` with `i` the index in `model.layers` once the InputLayers are left
# out (merge layers have no weights but count). The JSON adds `inputs`, `outputs`, `layers`
# (Keras's `model.layers`, InputLayers included, in Keras's order), `operations` (every
# operation of the graph, the ops Keras traces for masks too), `weights` (wgfit's names in
# order), `loss`, `loss_weights` and `metrics` per output, `compile` (the arguments exactly as
# given to `model.compile`) and `first_batch_losses` (each output's unweighted loss on the first
# batch; `first_batch_loss` is the weighted total).
#
# Keras orders `model.layers` as `keras/src/ops/function.py` `map_graph` does: a depth-first
# search from the outputs (in order) through each node's input tensors (in call order, the
# `mask` argument after the data) numbers every operation when first reached (pre-order); an
# operation's depth is the longest path from it to an output (for a shared layer, the largest
# over its calls); operations are sorted by decreasing depth, ties by that number. The graph
# holds the ops Keras traces when it computes masks (NotEqual/Any for Masking, NotEqual for
# Embedding(mask_zero), LogicalOr/ZerosLike/OnesLike/... for merges), and they count in the
# depths: `graph_mask_depth_order` is a case where that changes the order of the layers.


def graph_cases():
    """Graph cases, from their own generator (the cases above keep their data)."""
    rng = np.random.default_rng(20260601)
    adam = ("adam", {"learning_rate": 0.001})
    out = []

    # Two inputs: a masked sequence through an LSTM and a static vector through a Dense,
    # concatenated. 10 samples, batch 4 (the last batch is 2).
    seq, _ = sequences(rng, 10, (2, 6), 3, "post")
    static = rng.normal(size=(10, 2)).astype(np.float32)
    y = rng.integers(0, 2, (10, 1)).astype(np.float32)

    def two_inputs_concat():
        s = keras.Input((None, 3), name="seq")
        v = keras.Input((2,), name="static")
        h = layers.LSTM(4)(layers.Masking(0.0)(s))
        g = layers.Dense(3, activation="relu")(v)
        o = layers.Dense(1, activation="sigmoid")(layers.Concatenate()([h, g]))
        return keras.Model([s, v], o)
    out.append(dict(name="graph_two_inputs_concat", build=two_inputs_concat, x=[seq, static],
                    y=[y], loss="binary_crossentropy", metrics=["accuracy"], opt=adam,
                    batch_size=4, note="Masking->LSTM(4) and Dense(3, relu), Concatenate, "
                    "Dense(1, sigmoid); `seq` post-padded with zeros, lengths 2..6"))

    # One input, two heads; weighted losses; a metric on one head only.
    x = rng.normal(size=(13, 6)).astype(np.float32)
    y_cls = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 13)]
    y_reg = rng.normal(size=(13, 1)).astype(np.float32)

    def two_outputs_weighted():
        i = keras.Input((6,), name="features")
        h = layers.Dense(8, activation="tanh")(i)
        cls = layers.Dense(3, activation="softmax", name="cls")(h)
        reg = layers.Dense(1, name="reg")(h)
        return keras.Model(i, [cls, reg])
    out.append(dict(name="graph_two_outputs_weighted", build=two_outputs_weighted, x=[x],
                    y=[y_cls, y_reg],
                    loss={"cls": "categorical_crossentropy", "reg": "mean_squared_error"},
                    loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]},
                    opt=("sgd", {"learning_rate": 0.05, "momentum": 0.9}), batch_size=5,
                    note="Dense(8, tanh) fanned out to Dense(3, softmax) `cls` (one-hot y) and "
                    "Dense(1) `reg`; total loss = 1.0 * cls + 0.5 * reg"))

    # One Dense object applied to two inputs (its weights once, its gradient summed).
    a = rng.normal(size=(11, 4)).astype(np.float32)
    b = rng.normal(size=(11, 4)).astype(np.float32)
    y = rng.normal(size=(11, 1)).astype(np.float32)

    def shared_layer():
        ia = keras.Input((4,), name="a")
        ib = keras.Input((4,), name="b")
        shared = layers.Dense(3, activation="tanh")
        d = layers.Subtract()([shared(ia), shared(ib)])
        return keras.Model([ia, ib], layers.Dense(1)(d))
    out.append(dict(name="graph_shared_layer", build=shared_layer, x=[a, b], y=[y],
                    loss="mean_squared_error", metrics=[],
                    opt=("rmsprop", {"learning_rate": 0.001}), batch_size=4,
                    note="one Dense(3, tanh) object applied to `a` and to `b`, Subtract, "
                    "Dense(1)"))

    # Fan-out and every elementwise merge, then Concatenate.
    x = rng.normal(size=(14, 5)).astype(np.float32)
    y = rng.integers(0, 2, (14,)).astype(np.float32)

    def fan_out_merges():
        i = keras.Input((5,), name="x")
        h = layers.Dense(4, activation="tanh")(i)
        a = layers.Dense(4, activation="tanh")(h)
        b = layers.Dense(4, activation="tanh")(h)
        merged = [layers.Add()([a, b]), layers.Subtract()([a, b]), layers.Multiply()([a, b]),
                  layers.Average()([a, b, h]), layers.Maximum()([a, b]),
                  layers.Minimum()([a, b])]
        c = layers.Concatenate(axis=-1)(merged)
        return keras.Model(i, layers.Dense(2, activation="softmax")(c))
    out.append(dict(name="graph_fan_out_merges", build=fan_out_merges, x=[x], y=[y],
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"], opt=adam,
                    batch_size=4,
                    note="h = Dense(4, tanh); a, b = Dense(4, tanh)(h); Add, Subtract, "
                    "Multiply, Average([a, b, h]), Maximum, Minimum of a and b; Concatenate; "
                    "Dense(2, softmax)"))

    # Two masked sequences with different lengths per sample, merged step by step.
    p, q, _ = sequence_pair(rng, 10, (2, 6), (1, 6), 3)
    y = rng.integers(0, 2, (10, 1)).astype(np.float32)

    def masked_merges():
        ip = keras.Input((None, 3), name="p")
        iq = keras.Input((None, 3), name="q")
        hp = layers.LSTM(4, return_sequences=True)(layers.Masking(0.0)(ip))
        hq = layers.LSTM(4, return_sequences=True)(layers.Masking(0.0)(iq))
        merged = [layers.Maximum()([hp, hq]), layers.Multiply()([hp, hq]),
                  layers.Add()([hp, hq]), layers.Minimum()([hp, hq])]
        c = layers.Concatenate(axis=-1)(merged)
        o = layers.Dense(1, activation="sigmoid")(layers.LSTM(3)(c))
        return keras.Model([ip, iq], o)
    out.append(dict(name="graph_masked_merges", build=masked_merges, x=[p, q], y=[y],
                    loss="binary_crossentropy", metrics=["accuracy"], opt=adam, batch_size=4,
                    activations=True,
                    note="`p` and `q` post-padded with zeros to the same T, their lengths "
                    "differing per sample; own Masking and LSTM(4, return_sequences) each; "
                    "Maximum, Multiply, Add, Minimum; Concatenate(-1); LSTM(3); "
                    "Dense(1, sigmoid). `act.*`/`mask.*`: the first batch's merge outputs "
                    "and their Keras masks (1 = kept)"))

    # Two masked sequences of different T, concatenated along time: the mask has a hole.
    p, _ = sequences(rng, 9, (2, 5), 3, "post")
    q, _ = sequences(rng, 9, (1, 4), 3, "post")
    y = rng.normal(size=(9, 1)).astype(np.float32)

    def time_concat():
        ip = keras.Input((None, 3), name="p")
        iq = keras.Input((None, 3), name="q")
        c = layers.Concatenate(axis=1)([layers.Masking(0.0)(ip), layers.Masking(0.0)(iq)])
        return keras.Model([ip, iq], layers.Dense(1)(layers.LSTM(3)(c)))
    out.append(dict(name="graph_time_concat", build=time_concat, x=[p, q], y=[y],
                    loss="mean_squared_error", metrics=[], opt=adam, batch_size=4,
                    activations=True,
                    note="`p` (T 5) and `q` (T 4), each post-padded and masked, concatenated "
                    "along time (axis 1): p's padding is a masked hole before q's steps; "
                    "LSTM(3); Dense(1)"))

    # Token ids through Embedding(mask_zero) -> LSTM, and a static branch. On JAX: see JAX_CASES.
    tokens, _ = token_sequences(rng, 11, (2, 7), 12)
    meta = rng.normal(size=(11, 3)).astype(np.float32)
    y = rng.integers(0, 2, (11, 1)).astype(np.float32)

    def embedding_branch():
        t = keras.Input((None,), name="tokens")
        m = keras.Input((3,), name="meta")
        h = layers.LSTM(5)(layers.Embedding(12, 4, mask_zero=True)(t))
        g = layers.Dense(2, activation="relu")(m)
        o = layers.Dense(1, activation="sigmoid")(layers.Concatenate()([h, g]))
        return keras.Model([t, m], o)
    out.append(dict(name="graph_embedding_branch", build=embedding_branch, x=[tokens, meta],
                    y=[y], loss="binary_crossentropy", metrics=["accuracy"], opt=adam,
                    batch_size=4, token_inputs=("tokens",),
                    note="`tokens`: ids 1..11, 0 = padding, post-padded, stored as float32; "
                    "Embedding(12, 4, mask_zero) -> LSTM(5) and Dense(2, relu) of `meta`, "
                    "Concatenate, Dense(1, sigmoid)"))

    # Keras counts the ops it traces for masks when it orders `model.layers`: here they give
    # the Masking layer depth 6 (3 counting layers alone) and put it first, before both Dense
    # layers (counting layers alone the order would be Dense, Masking, Dense).
    p, _ = sequences(rng, 9, (1, 4), 2, "post")
    q = rng.normal(size=(9, 3, 2)).astype(np.float32)
    y = rng.normal(size=(9, 1)).astype(np.float32)

    def mask_depth_order():
        ip = keras.Input((None, 2), name="p")
        iq = keras.Input((None, 2), name="q")
        g = layers.Dense(2, activation="tanh")(iq)
        g = layers.Dense(2, activation="tanh")(g)
        c = layers.Concatenate(axis=1)([layers.Masking(0.0)(ip), g])
        return keras.Model([ip, iq], layers.Dense(1)(layers.LSTM(3)(c)))
    out.append(dict(name="graph_mask_depth_order", build=mask_depth_order, x=[p, q], y=[y],
                    loss="mean_squared_error", metrics=[], opt=adam, batch_size=4,
                    activations=True,
                    note="`p` post-padded and masked; `q` (T 3, unmasked) through two "
                    "Dense(2, tanh) per step; Concatenate along time (the unmasked part's mask "
                    "all ones); LSTM(3); Dense(1). Checks the order of `model.layers`: the ops "
                    "Keras traces for the masks count in the depths"))
    return out


# ---------------------------------------------------------------------------------------------
# Sample weights (`fit(..., sample_weight=w)`), graph-case format plus the tensor `sample_weight`
# and the JSON keys `sample_weight`, `evaluate_weighted`. What Keras 3.15 does with them (checked
# by asserts in `run_graph_case`):
# - a batch's loss (per output) is sum(w * l) / batch_size (reduction "sum_over_batch_size": a
#   weight of 0 still counts in the divisor), the total sum(loss_weights[o] * that);
# - `metrics` (accuracy here) ignore the sample weights (only `weighted_metrics` use them);
# - the epoch's `loss` and `{output}_loss` in the history are the batch values averaged with the
#   batch sizes as weights (not the sums of w), so over an epoch at fixed weights
#   sum_all(w * l) / samples; metrics are their running (unweighted) means.
# - one array given for a model with several outputs weights every output.


def weighted_cases():
    """Sample-weighted cases, from their own generator (the cases above keep their data)."""
    rng = np.random.default_rng(20260701)
    out = []

    # Single output, sparse labels, Adam. 11 samples, batch 4 (4, 4, 3); zeros at 1 and 9.
    x = rng.normal(size=(11, 5)).astype(np.float32)
    y = rng.integers(0, 3, (11,)).astype(np.float32)
    w = rng.uniform(0.2, 2.0, (11,)).astype(np.float32)
    w[[1, 9]] = 0.0

    def mlp():
        i = keras.Input((5,), name="features")
        h = layers.Dense(6, activation="tanh")(i)
        return keras.Model(i, layers.Dense(3, activation="softmax")(h))
    out.append(dict(name="weighted_mlp_adam_scce", build=mlp, x=[x], y=[y], sample_weight=w,
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                    opt=("adam", {"learning_rate": 0.001}), batch_size=4,
                    note="Dense(6, tanh) -> Dense(3, softmax), sparse labels; fit with "
                    "`sample_weight` (uniform 0.2..2.0, zeros at samples 1 and 9)"))

    # Two heads, one weight array for both. 9 samples, batch 4 (4, 4, 1); zeros at 2 and 5.
    x = rng.normal(size=(9, 4)).astype(np.float32)
    y_p = rng.integers(0, 2, (9, 1)).astype(np.float32)
    y_r = rng.normal(size=(9, 2)).astype(np.float32)
    w = rng.uniform(0.2, 2.0, (9,)).astype(np.float32)
    w[[2, 5]] = 0.0

    def two_outputs():
        i = keras.Input((4,), name="features")
        h = layers.Dense(5, activation="relu")(i)
        p = layers.Dense(1, activation="sigmoid", name="p")(h)
        r = layers.Dense(2, name="r")(h)
        return keras.Model(i, [p, r])
    out.append(dict(name="weighted_two_outputs_bce_mse", build=two_outputs, x=[x],
                    y=[y_p, y_r], sample_weight=w,
                    loss={"p": "binary_crossentropy", "r": "mean_squared_error"},
                    loss_weights={"p": 1.0, "r": 0.3}, metrics={"p": ["accuracy"]},
                    opt=("sgd", {"learning_rate": 0.05}), batch_size=4,
                    note="Dense(5, relu) fanned out to Dense(1, sigmoid) `p` and Dense(2) `r`; "
                    "total loss = 1.0 * p + 0.3 * r; one `sample_weight` array (uniform "
                    "0.2..2.0, zeros at samples 2 and 5) given to fit, weighting both outputs"))
    return out


def sequence_pair(rng, n, lengths_p, lengths_q, features):
    """Two post-padded sequence batches with the same T and, per sample, different lengths."""
    lp = rng.integers(lengths_p[0], lengths_p[1] + 1, n)
    lq = rng.integers(lengths_q[0], lengths_q[1] + 1, n)
    lq = np.where(lq == lp, np.where(lp > lengths_q[0], lp - 1, lp + 1), lq)
    t = max(lp.max(), lq.max())
    xs = []
    for lens in (lp, lq):
        x = np.zeros((n, t, features), np.float32)
        for i, length in enumerate(lens):
            x[i, :length] = (rng.uniform(0.1, 1.0, (length, features))
                             * rng.choice([-1, 1], (length, features)))
        xs.append(x)
    assert (lp != lq).all()
    return xs[0], xs[1], (lp, lq)


def one_or_list(values):
    return values[0] if len(values) == 1 else list(values)


def indexed(prefix, values):
    """`prefix` for one tensor, `prefix.0`, `prefix.1`, ... for several."""
    if len(values) == 1:
        return {prefix: values[0]}
    return {f"{prefix}.{k}": v for k, v in enumerate(values)}


def call_args(node):
    """The names of the layers/ops whose outputs a call reads as data (positional arguments;
    the `mask` a layer is given is in `operations`)."""
    return [t._keras_history.operation.name for t in keras.tree.flatten(node.arguments.args)
            if hasattr(t, "_keras_history")]


def depths(model):
    return {id(op): d for d, ops in model._operations_by_depth.items() for op in ops}


def layer_table(model):
    """Keras's `model.layers` (InputLayers included, Keras's order) with wgfit's index, Keras's
    depth (see map_graph above: mask ops count), the layers each call reads (in call order) and
    a few config fields."""
    real = real_layers(model)
    depth = depths(model)
    keep = ("units", "activation", "return_sequences", "mask_value", "input_dim", "output_dim",
            "mask_zero", "axis", "batch_shape")
    table = []
    for layer in model.layers:
        row = {"class": type(layer).__name__, "name": layer.name,
               "index": real.index(layer) if layer in real else None}
        if row["index"] is not None:
            row["kind"] = KINDS[row["class"]]
        row["depth"] = depth[id(layer)]
        row["calls"] = [call_args(n) for n in layer._inbound_nodes if not n.is_input]
        row["config"] = {k: v for k, v in layer.get_config().items() if k in keep}
        table.append(row)
    return table


def operation_list(model):
    """Every operation of the graph in Keras's order (`model._operations`), layers and the ops
    Keras traces for masks alike, one line each: `depth class name <- inputs [mask <- op]`, a
    layer called twice `... <- a; <- b`."""
    depth = depths(model)
    lines = []
    for op in model._operations:
        calls = []
        for node in op._inbound_nodes:
            if node.is_input:
                continue
            call = "<- " + ", ".join(call_args(node))
            mask = node.arguments.kwargs.get("mask")
            if mask is not None:
                call += " [mask <- " + ", ".join(t._keras_history.operation.name
                                                 for t in keras.tree.flatten(mask)) + "]"
            calls.append(call)
        lines.append(" ".join([str(depth[id(op)]), type(op).__name__, op.name, "; ".join(calls)])
                     .rstrip())
    return lines


def per_output(model, spec, default):
    """`spec` (as given to compile) as a dict by output name."""
    names = model.output_names
    if isinstance(spec, dict):
        return {n: spec.get(n, default) for n in names}
    assert len(names) == 1, (names, spec)
    return {names[0]: spec if spec is not None else default}


def graph_first_batch(model, xb, yb, swb=None):
    """Keras's total loss of the first batch (with sample weights `swb`, if any) and its
    gradients, on the backend in use."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            y_pred = model(xb, training=True)
            value = model.compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=swb,
                                       training=True)
        grads = tape.gradient(value, model.trainable_variables)
        return float(value), [tf.convert_to_tensor(g).numpy() for g in grads]
    import jax
    trainable = [v.value for v in model.trainable_variables]
    others = [v.value for v in model.non_trainable_variables]
    metric_vars = [v.value for v in model.metrics_variables]

    def batch_loss(tv):
        y_pred, ntv = model.stateless_call(tv, others, xb, training=True)
        value, _ = model.stateless_compute_loss(tv, ntv, metric_vars, x=xb, y=yb,
                                                y_pred=y_pred, sample_weight=swb,
                                                training=True)
        return value

    value, grads = jax.value_and_grad(batch_loss)(trainable)
    return float(value), [np.asarray(g) for g in grads]


def merge_activations(model, xb):
    """The first batch's output of every merge layer and its Keras mask, by wgfit name."""
    real = real_layers(model)
    merges = [l for l in real if isinstance(l, keras.layers.Layer)
              and type(l).__name__ in ("Concatenate", "Add", "Subtract", "Multiply",
                                       "Average", "Maximum", "Minimum")]
    probe = keras.Model(one_or_list(model.inputs), [l.output for l in merges])
    outs = probe(xb, training=False)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    tensors = {}
    for layer, value in zip(merges, outs):
        key = f"layers.{real.index(layer)}.{KINDS[type(layer).__name__]}"
        if type(layer).__name__ != "Concatenate":  # its value is its inputs', side by side
            tensors[f"act.{key}"] = np.asarray(value)
        mask = get_keras_mask(value)
        assert mask is not None, f"{layer.name}: Keras gives no mask"
        tensors[f"mask.{key}"] = np.asarray(mask).astype(np.float32)
    return tensors


def check_no_ties(model, x):
    """Maximum/Minimum: no two inputs equal anywhere on `x` at the initial weights (a tie would
    make the gradient's choice of branch a convention)."""
    for layer in real_layers(model):
        if type(layer).__name__ not in ("Maximum", "Minimum"):
            continue
        for node in layer._inbound_nodes:
            probe = keras.Model(one_or_list(model.inputs), list(node.input_tensors))
            a, b = [np.asarray(v) for v in probe(x, training=False)]
            gap = np.abs(a - b).min()
            assert gap > 1e-5, f"{layer.name}: a tie ({gap})"


def run_graph_case(outdir, case):
    name, batch_size, opt = case["name"], case["batch_size"], case["opt"]
    keras.backend.clear_session()  # layer names (dense, dense_1, ...) the same in every run
    keras.utils.set_random_seed(0)
    model = case["build"]()
    names = wgfit_names(model)
    init = known_weights(model, np.random.default_rng(zlib.crc32(name.encode())))
    compile_args = {"loss": case["loss"], "metrics": case["metrics"]}
    if case.get("loss_weights") is not None:
        compile_args["loss_weights"] = case["loss_weights"]

    def fresh(opt=opt):
        model.set_weights(init)
        model.compile(optimizer=optimizer(opt), **compile_args)

    xs, ys = case["x"], case["y"]
    sw = case.get("sample_weight")  # one array for every output, or None
    assert len(xs) == len(model.inputs) and len(ys) == len(model.outputs)
    x, y = one_or_list(xs), one_or_list(ys)
    xb = one_or_list([v[:batch_size] for v in xs])
    yb = one_or_list([v[:batch_size] for v in ys])
    swb = None if sw is None else sw[:batch_size]
    n = len(xs[0])
    assert n % batch_size != 0, "a short last batch"
    assert sw is None or sw.shape == (n,), "one weight per sample"

    fresh()
    pred = model.predict(x, batch_size=batch_size, verbose=0)
    preds = list(pred) if isinstance(pred, (list, tuple)) else [pred]
    first_loss, grads = graph_first_batch(model, xb, yb, swb)

    # The loss of each output on the first batch before `loss_weights` (no output carries a mask
    # here, so each is the batch mean of its loss function; with sample weights the batch mean of
    # w * loss, i.e. sum(w * l) / batch size).
    losses = per_output(model, case["loss"], None)
    weights = per_output(model, case.get("loss_weights"), 1.0)
    out_pred = model(xb, training=True)
    out_pred = list(out_pred) if isinstance(out_pred, (list, tuple)) else [out_pred]
    first_losses = {}
    for o, yt, yp in zip(model.output_names, ys, out_pred):
        assert get_keras_mask(yp) is None, f"{name}: output {o} has a mask"
        fn = keras.losses.get(losses[o])
        per_sample = fn(yt[:batch_size], yp)
        if swb is not None:
            assert tuple(per_sample.shape) == swb.shape
            per_sample = per_sample * swb
        first_losses[o] = float(keras.ops.mean(per_sample))
    total = sum(weights[o] * first_losses[o] for o in first_losses)
    assert abs(total - first_loss) <= 1e-6 * max(1.0, abs(first_loss)), (total, first_loss)
    if sw is not None:
        # evaluate on the first batch reports the same weighted loss.
        ev = model.evaluate(xb, yb, sample_weight=swb, batch_size=batch_size, verbose=0,
                            return_dict=True)
        assert abs(ev["loss"] - first_loss) <= 1e-6 * max(1.0, abs(first_loss)), ev
        check_sample_weight_semantics(model, case, x, y, swb, out_pred, batch_size)

    step = model.train_on_batch(xb, yb, sample_weight=swb, return_dict=True)
    assert abs(step["loss"] - first_loss) <= 1e-6 * max(1.0, abs(step["loss"])), step
    if len(model.outputs) > 1:
        for o, v in first_losses.items():
            assert abs(step[f"{o}_loss"] - v) <= 1e-6 * max(1.0, abs(v)), (o, step)
    step1 = model.get_weights()
    assert len(step1) == len(names)

    if sw is not None:
        # The gradient train_on_batch applies is `grads`: one step of SGD(1) moves by it.
        fresh(("sgd", {"learning_rate": 1.0}))
        model.train_on_batch(xb, yb, sample_weight=swb)
        for g, a, b in zip(grads, init, model.get_weights()):
            assert np.allclose(a - b, g, rtol=1e-5, atol=1e-7), (g, a - b)

    fresh()
    history = model.fit(x, y, sample_weight=sw, batch_size=batch_size, epochs=2, shuffle=False,
                        verbose=0)
    final = model.get_weights()
    if sw is not None:
        check_history_replay(model, fresh, xs, ys, sw, batch_size, history.history, final)

    tensors = {}
    tensors.update(indexed("x", xs))
    tensors.update(indexed("y", ys))
    tensors.update(indexed("pred", preds))
    if sw is not None:
        tensors["sample_weight"] = sw
    tensors.update(tensors_of("init", names, init))
    tensors.update(tensors_of("grad", names, grads))
    tensors.update(tensors_of("step1", names, step1))
    tensors.update(tensors_of("final", names, final))
    if case.get("activations"):
        model.set_weights(init)
        tensors.update(merge_activations(model, xb))
    model.set_weights(init)
    check_no_ties(model, x)

    evaluate_weighted = None
    if sw is not None:
        fresh()
        evaluate_weighted = {k: float(v) for k, v in model.evaluate(
            x, y, sample_weight=sw, batch_size=batch_size, verbose=0, return_dict=True).items()}

    token_inputs = case.get("token_inputs", ())
    inputs = []
    for t in model.inputs:
        iname = t._keras_history.operation.name
        row = {"name": iname, "shape": list(t.shape), "dtype": t.dtype}
        if iname in token_inputs:
            row["token_ids"] = True
            row["stored_as"] = "float32"
        inputs.append(row)
    info = {
        "model": "functional",
        "note": case["note"],
        "inputs": inputs,
        "outputs": list(model.output_names),
        "layers": layer_table(model),
        "operations": operation_list(model),
        "weights": names,
        "loss": losses,
        "loss_weights": weights,
        "metrics": per_output(model, case["metrics"], []),
        "compile": {k: compile_args.get(k) for k in ("loss", "loss_weights", "metrics")},
        "optimizer": {"name": opt[0], **opt[1]},
        "batch_size": batch_size,
        "samples": n,
        "first_batch_loss": float(first_loss),
        "first_batch_losses": first_losses,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    if sw is not None:
        info["sample_weight"] = {
            "tensor": "sample_weight",
            "given_as": "fit(x, y, sample_weight=w), one array for every output",
            "loss": "per output, sum(w * loss) / batch size (zero weights count in the size); "
                    "total = sum(loss_weights[o] * that)",
            "metrics": "unweighted (Keras applies sample weights to weighted_metrics only)",
            "history": "per epoch: `loss` and the metrics, the batches' values averaged with "
                       "the batch sizes as weights; `{output}_loss` (several outputs), the plain "
                       "mean of the batches' values (Keras on TensorFlow counts each batch "
                       "once); evaluate alike",
        }
        info["evaluate_weighted"] = {
            "call": "evaluate(x, y, sample_weight=w, batch_size) from the initial weights",
            **evaluate_weighted}
    if token_inputs:
        info["token_ids_as_float32"] = list(token_inputs)
    save(outdir, name, tensors, info)
    return model


def close(a, b, rel=1e-5):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def check_sample_weight_semantics(model, case, x, y, swb, out_pred, batch_size):
    """At the initial weights: a batch's loss is sum(w * l) / batch size (not / sum(w)), the
    metrics ignore w, evaluate over all data gives sum_all(w * l) / samples."""
    losses = per_output(model, case["loss"], None)
    weights = per_output(model, case.get("loss_weights"), 1.0)
    ys = y if isinstance(y, list) else [y]
    preds = model(x, training=False)
    preds = list(preds) if isinstance(preds, (list, tuple)) else [preds]
    sw = case["sample_weight"]
    ev = model.evaluate(x, y, sample_weight=sw, batch_size=batch_size, verbose=0,
                        return_dict=True)
    total = 0.0
    for o, yt, yp in zip(model.output_names, ys, preds):
        l_all = np.asarray(keras.losses.get(losses[o])(yt, yp), np.float64)
        by_size = float((sw * l_all).sum() / len(sw))
        by_weights = float((sw * l_all).sum() / sw.sum())
        assert not close(by_size, by_weights, 1e-3), "the data cannot tell them apart"
        total += weights[o] * by_size
        if len(model.outputs) > 1:
            # `{o}_loss` is the plain mean of the batches' values (see OUTPUT_LOSS_MEAN).
            batches = [float((sw[s:s + batch_size] * l_all[s:s + batch_size]).sum())
                       / len(sw[s:s + batch_size]) for s in range(0, len(sw), batch_size)]
            assert not close(by_size, float(np.mean(batches)), 1e-3)
            assert close(ev[f"{o}_loss"], float(np.mean(batches))), (o, ev, batches, by_size)
        # The first batch: sum(w * l) / batch size.
        lb = l_all[:batch_size]
        assert not close(float((swb * lb).sum() / batch_size), float((swb * lb).sum() / swb.sum()),
                         1e-3)
        for metric in per_output(model, case["metrics"], [])[o]:
            assert metric == "accuracy"
            key = "accuracy" if len(model.outputs) == 1 else f"{o}_accuracy"
            p = np.asarray(yp)
            t = np.asarray(yt)
            if p.shape[-1] == 1:  # binary accuracy, threshold 0.5
                hit = ((p > 0.5).astype(np.float32) == t).astype(np.float64).mean(axis=-1)
            else:  # sparse categorical accuracy
                hit = (p.argmax(-1) == t.reshape(-1)).astype(np.float64)
            unweighted = float(hit.mean())
            weighted = float((sw * hit).sum() / sw.sum())
            assert not close(unweighted, weighted, 1e-3), "the data cannot tell them apart"
            assert close(ev[key], unweighted), (key, ev, unweighted, weighted)
    assert close(ev["loss"], total), (ev, total)


# OUTPUT_LOSS_MEAN: with several outputs, Keras 3.15 on TensorFlow tracks each `{output}_loss`
# with a Mean updated with `sample_weight=y_pred.shape[0]`, the static batch size, which is None
# inside the compiled step (the last batch is shorter): every batch counts once, whatever its
# size. So the epoch's `{output}_loss` in fit's history (and evaluate's) is the plain mean of the
# batches' values, while `loss` and the metrics are averaged with the batch sizes as weights.
# (`run_eagerly=True` would weight `{output}_loss` by batch size too.)


def check_history_replay(model, fresh, xs, ys, sw, batch_size, history, final):
    """fit's history from the batches' own values: replay fit with train_on_batch (which resets
    the metrics per call) and average each epoch's batch values, `loss` and the metrics with the
    batch sizes as weights, `{output}_loss` plainly (OUTPUT_LOSS_MEAN)."""
    fresh()
    n = len(sw)
    for epoch in range(2):
        sums, sizes, batches = {}, 0, 0
        for s in range(0, n, batch_size):
            e = min(s + batch_size, n)
            logs = model.train_on_batch(one_or_list([v[s:e] for v in xs]),
                                        one_or_list([v[s:e] for v in ys]),
                                        sample_weight=sw[s:e], return_dict=True)
            for k, v in logs.items():
                plain = k != "loss" and k.endswith("_loss")  # see OUTPUT_LOSS_MEAN
                sums[k] = sums.get(k, 0.0) + (1 if plain else e - s) * float(v)
            sizes += e - s
            batches += 1
        assert set(sums) == set(history), (sums, history)
        for k, v in sums.items():
            plain = k != "loss" and k.endswith("_loss")
            want = v / (batches if plain else sizes)
            assert close(history[k][epoch], want), (k, epoch, history[k], want)
    for a, b in zip(final, model.get_weights()):
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6)


def first_batch_gradients(model, loss, xb, yb):
    """The loss Keras computes for the batch and its gradients, on the backend in use."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        with tf.GradientTape() as tape:
            y_pred = model(xb, training=True)
            value = model.compute_loss(x=xb, y=yb, y_pred=y_pred, training=True)
        grads = tape.gradient(value, model.trainable_variables)
        return float(value), [tf.convert_to_tensor(g).numpy() for g in grads]
    import jax
    # JAX cases have no mask reaching the loss: the loss is the batch mean of the loss function.
    fn = keras.losses.get(loss)
    trainable = [v.value for v in model.trainable_variables]
    others = [v.value for v in model.non_trainable_variables]

    def batch_loss(tv):
        y_pred, _ = model.stateless_call(tv, others, xb, training=True)
        return keras.ops.mean(fn(yb, y_pred))

    value, grads = jax.value_and_grad(batch_loss)(trainable)
    return float(value), [np.asarray(g) for g in grads]


def tensors_of(prefix, names, values):
    return {f"{prefix}.{n}": np.ascontiguousarray(v, np.float32) for n, v in zip(names, values)}


def run_case(outdir, name, build, loss, opt, batch_size, metrics, x, y):
    keras.utils.set_random_seed(0)
    model = build()
    names = wgfit_names(model)
    init = known_weights(model, np.random.default_rng(zlib.crc32(name.encode())))

    def fresh():
        model.set_weights(init)
        model.compile(optimizer=optimizer(opt), loss=loss, metrics=metrics)

    fresh()
    pred = model.predict(x, batch_size=batch_size, verbose=0)
    xb, yb = x[:batch_size], y[:batch_size]
    first_loss, grads = first_batch_gradients(model, loss, xb, yb)
    step = model.train_on_batch(xb, yb, return_dict=True)
    # train_on_batch reports the loss of the batch before its update: the same number.
    assert abs(step["loss"] - float(first_loss)) <= 1e-6 * max(1.0, abs(step["loss"])), step
    step1 = model.get_weights()

    fresh()
    history = model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    final = model.get_weights()

    tensors = {"x": x, "y": y, "pred": pred}
    tensors.update(tensors_of("init", names, init))
    tensors.update(tensors_of("grad", names, grads))
    tensors.update(tensors_of("step1", names, step1))
    tensors.update(tensors_of("final", names, final))
    save(outdir, name, tensors, {
        "loss": loss, "optimizer": {"name": opt[0], **opt[1]}, "batch_size": batch_size,
        "metrics": metrics, "first_batch_loss": float(first_loss),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    })


def run_bucketed(outdir):
    """Masked LSTM fit on length-bucketed batches of different time lengths."""
    name = "bucketed_masked_lstm_adam_bce"
    rng = np.random.default_rng(7)
    lens = rng.integers(2, 12, 23)
    xs = [(rng.uniform(0.1, 1.0, (n, 4)) * rng.choice([-1, 1], (n, 4))).astype(np.float32)
          for n in lens]
    y = rng.integers(0, 2, (23, 1)).astype(np.float32)
    batch_size = 5
    keras.utils.set_random_seed(0)
    model = keras.Model(*chain(keras.Input((None, 4)), layers.Masking(0.0), layers.LSTM(6),
                               layers.Dense(1, activation="sigmoid")))
    names = wgfit_names(model)
    init = known_weights(model, np.random.default_rng(11))
    model.set_weights(init)
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy",
                  metrics=["accuracy"])
    batches = bucketed_batches(xs, y, batch_size)
    history = model.fit(Batches(batches), epochs=2, shuffle=False, verbose=0)
    # All sequences post-padded to the longest, one row each, as wgfit stores them.
    t = lens.max()
    x = np.zeros((len(xs), t, 4), np.float32)
    for i, s in enumerate(xs):
        x[i, :len(s)] = s
    tensors = {"x": x, "y": y, "lengths": lens.astype(np.float32)}
    tensors.update(tensors_of("init", names, init))
    tensors.update(tensors_of("final", names, model.get_weights()))
    save(outdir, name, tensors, {
        "loss": "binary_crossentropy", "optimizer": {"name": "adam", "learning_rate": 0.001},
        "batch_size": batch_size, "metrics": ["accuracy"],
        "batch_lengths": [int(b[0].shape[1]) for b in batches],
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    })


# timeseries_dataset_from_array: (name, data shape, targets shape or None, sequence_length,
# keyword arguments). Covers the last partial batch, stride with sampling_rate > 1,
# start_index / end_index, 1-D data without targets, targets shorter than the data.
TIMESERIES_CASES = [
    ("defaults_partial_batch", (23, 3), (23,), 5, {"batch_size": 4}),
    ("stride_rate_start_end", (50, 2), (50,), 4,
     {"sequence_stride": 3, "sampling_rate": 2, "batch_size": 5, "start_index": 3,
      "end_index": 41}),
    ("univariate_no_targets", (30,), None, 6, {"sampling_rate": 3, "end_index": 25,
                                              "batch_size": 7}),
    ("short_targets", (40, 1), (20, 2), 3, {"sequence_stride": 2, "batch_size": 6}),
    ("start_with_targets", (30, 2), (30,), 4, {"start_index": 5, "batch_size": 8}),
]


def run_timeseries(outdir):
    """`timeseries_windows`: Keras's windows and targets for each of TIMESERIES_CASES
    (shuffle=False), every batch concatenated; `data.{case}` and `targets.{case}` are the
    inputs, `x.{case}` / `y.{case}` the windows, the JSON the arguments and batch sizes."""
    rng = np.random.default_rng(20)
    tensors, cases = {}, []
    for name, data_shape, target_shape, length, kwargs in TIMESERIES_CASES:
        data = rng.standard_normal(data_shape).astype(np.float32)
        targets = None if target_shape is None else rng.standard_normal(
            target_shape).astype(np.float32)
        ds = keras.utils.timeseries_dataset_from_array(data, targets, length, **kwargs)
        xs, ys, sizes = [], [], []
        for batch in ds:
            x = batch[0] if targets is not None else batch
            xs.append(np.asarray(x))
            sizes.append(int(xs[-1].shape[0]))
            if targets is not None:
                ys.append(np.asarray(batch[1]))
        tensors[f"data.{name}"] = data
        tensors[f"x.{name}"] = np.concatenate(xs)
        if targets is not None:
            tensors[f"targets.{name}"] = targets
            tensors[f"y.{name}"] = np.concatenate(ys)
        cases.append({"case": name, "sequence_length": length, **kwargs,
                      "batch_sizes": sizes})
    save(outdir, "timeseries_windows", tensors, {"cases": cases, "history": {}})



def save(outdir, name, tensors, info):
    backend = keras.backend.backend()
    backend_version = __import__(backend).__version__
    info = {"case": name, "keras": keras.__version__, "backend": backend,
            backend: backend_version, "numpy": np.__version__,
            "generated_by": "tools/keras_golden.py", **info}
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()},
              os.path.join(outdir, f"{name}.safetensors"))
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    size = os.path.getsize(os.path.join(outdir, f"{name}.safetensors"))
    print(f"{name}: {size} bytes, history {info['history']}")


def run_keras_trained_digits(outdir):
    """A model trained in Keras, saved as `.keras`, converted by tools/keras_to_wgfit.py: wgfit
    must evaluate it as Keras does. Also checks the converter's `.weights.h5` path and the
    README's reverse direction (wgfit weights into Keras)."""
    import gzip
    import tempfile

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import keras_to_wgfit

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with gzip.open(os.path.join(root, "examples/data/digits.csv.gz"), "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x, labels = rows[:, :64] / 16.0, rows[:, 64].astype(np.int64)
    order = np.random.default_rng(3).permutation(len(x))
    train, test = order[:1400], order[1400:1460]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), layers.Dense(32, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[train], labels[train], batch_size=32, epochs=5, verbose=0)
    x_test, y_test = x[test], labels[test].astype(np.float32)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    pred = model.predict(x_test, verbose=0)

    name = "keras_trained_digits"
    target = os.path.join(outdir, f"{name}.weights.safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "digits.keras"))
        keras_to_wgfit.main([os.path.join(tmp, "digits.keras"), target])
        # The .weights.h5 path gives the same tensors.
        model.save_weights(os.path.join(tmp, "digits.weights.h5"))
        with open(os.path.join(tmp, "config.json"), "w") as f:
            f.write(model.to_json())
        keras_to_wgfit.main([os.path.join(tmp, "digits.weights.h5"),
                             os.path.join(tmp, "h5.safetensors"), "--config",
                             os.path.join(tmp, "config.json")])
        from safetensors.numpy import load_file
        a, b = load_file(target), load_file(os.path.join(tmp, "h5.safetensors"))
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)

    # The reverse direction, as the README shows it: wgfit weights into Keras.
    weights = load_file(target)
    fresh = keras.Sequential([keras.Input((64,)), layers.Dense(32, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    for i, layer in enumerate(fresh.layers):
        layer.set_weights([weights[f"layers.{i}.dense.{r}"] for r in ("kernel", "bias")])
    assert np.array_equal(fresh.predict(x_test, verbose=0), pred)

    save(outdir, name, {"x": x_test, "y": y_test, "pred": pred}, {
        "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
        "evaluate": {"loss": float(loss), "accuracy": float(accuracy)},
        "history": {}, "weights_file": os.path.basename(target),
        "converted_by": "tools/keras_to_wgfit.py",
    })


# ---------------------------------------------------------------------------------------------
# Dropout and SpatialDropout1D (issue 17). Keras's random stream cannot be matched, so each case
# records its training numbers (`run_case`) with the model built at rate 0, where Keras's
# Dropout and SpatialDropout1D are the identity in training too, and then builds it at its real
# rates, sets the same weights, asserts that `predict` (inference: no dropout) gives exactly the
# rate-0 predictions, and records `evaluate` at those rates in the JSON (`inference`). wgfit's
# masks while training are checked by its own tests (tests/ops_dropout.rs: kept fraction,
# scaling, independence; tests/dropout.rs, tests/dropout_training.rs).
KINDS.update({"Dropout": "dropout", "SpatialDropout1D": "spatial_dropout1d"})


def dropout_cases():
    """(name, build(rate), loss, optimizer, batch_size, metrics, x, y, rate) for each case."""
    rng = np.random.default_rng(20261202)
    out = []
    x = rng.normal(size=(29, 6)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 29)]
    out.append(("dropout_mlp_adam_cce", lambda r: keras.Sequential([
        keras.Input((6,)), layers.Dense(12, activation="tanh"), layers.Dropout(r),
        layers.Dense(4, activation="softmax")]),
        "categorical_crossentropy", ("adam", {"learning_rate": 0.001}), 8, ["accuracy"], x, y,
        0.5))
    # The Embedding's mask passes through SpatialDropout1D to the LSTM. SGD: Keras on TF
    # applies Adam to an Embedding's sparse gradient otherwise (see JAX_CASES).
    x, _ = token_sequences(rng, 21, (2, 8), 12)
    y = rng.integers(0, 2, (21, 1)).astype(np.float32)
    out.append(("spatial_dropout_lstm_sgd_bce", lambda r: keras.Sequential([
        keras.Input((None,)), layers.Embedding(12, 6, mask_zero=True),
        layers.SpatialDropout1D(r), layers.LSTM(5), layers.Dropout(r),
        layers.Dense(1, activation="sigmoid")]),
        "binary_crossentropy", ("sgd", {"learning_rate": 0.1, "momentum": 0.9}), 4,
        ["accuracy"], x, y, 0.3))
    return out


def run_dropout_case(outdir, name, build, loss, opt, batch_size, metrics, x, y, rate):
    from safetensors.numpy import load_file
    run_case(outdir, name, lambda: build(0.0), loss, opt, batch_size, metrics, x, y)
    keras.utils.set_random_seed(0)
    model = build(rate)
    model.set_weights(known_weights(model, np.random.default_rng(zlib.crc32(name.encode()))))
    model.compile(optimizer=optimizer(opt), loss=loss, metrics=metrics)
    pred = model.predict(x, batch_size=batch_size, verbose=0)
    assert np.array_equal(pred, load_file(os.path.join(outdir, f"{name}.safetensors"))["pred"])
    evaluation = model.evaluate(x, y, verbose=0, return_dict=True)
    path = os.path.join(outdir, f"{name}.json")
    with open(path) as f:
        info = json.load(f)
    info["inference"] = {"rate": rate, "evaluate": {k: float(v) for k, v in evaluation.items()}}
    with open(path, "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(f"{name}: at rate {rate}, predictions as at rate 0; evaluate {info['inference']}")


# Bidirectional RNNs and stacked masked RNNs (issue 17, items 3 and 4), in the format of `cases`.
# Keras's Bidirectional runs a copy of the layer with `go_backwards=True` (input and mask
# reversed along time), flips its outputs back with `return_sequences`, and then forces
# `zero_output_for_mask=True` (masked steps output 0). wgfit names its weights
# `layers.{i}.bidirectional.forward.{role}`, then `...backward.{role}`: Keras's order.


def bidirectional_roles(layer):
    """A Bidirectional layer's wgfit roles: the wrapped layer's, forward then backward."""
    inner = ROLES[KINDS[type(layer.forward_layer).__name__]]
    return [f"{d}.{r}" for d in ("forward", "backward") for r in inner]


def bidirectional_cases():
    """Bidirectional LSTMs on post- and pre-padded masked batches (concat), one with merge_mode
    "sum" and return_sequences, and stacked masked LSTMs; from their own generator."""
    rng = np.random.default_rng(20261202)
    adam = ("adam", {"learning_rate": 0.001})
    out = []
    for padding, opt in [("post", adam), ("pre", ("rmsprop", {"learning_rate": 0.001}))]:
        x, _ = sequences(rng, 13, (1, 7), 4, padding)
        y = rng.integers(0, 2, (13, 1)).astype(np.float32)
        out.append((f"bidirectional_lstm_{padding}_{opt[0]}_bce", lambda: keras.Model(*chain(
            keras.Input((None, 4)), layers.Masking(0.0), layers.Bidirectional(layers.LSTM(5)),
            layers.Dense(1, activation="sigmoid"))),
            "binary_crossentropy", opt, 4, ["accuracy"], x, y))
    # Every step's output (the backward one flipped back, 0 at masked steps), summed; a
    # per-step softmax and a masked sequence loss. Pre-padded.
    x, _ = sequences(rng, 11, (2, 6), 3, "pre")
    y = rng.integers(0, 3, x.shape[:2]).astype(np.float32)
    out.append(("bidirectional_lstm_sum_sequences_adam_scce", lambda: keras.Model(*chain(
        keras.Input((None, 3)), layers.Masking(0.0),
        layers.Bidirectional(layers.LSTM(4, return_sequences=True), merge_mode="sum"),
        layers.Dense(3, activation="softmax"))),
        "sparse_categorical_crossentropy", adam, 4, ["accuracy"], x, y))
    # LSTM(return_sequences) -> LSTM, the mask flowing through (a masked step outputs the
    # carried h, zero_output_for_mask=False, which the second LSTM skips). Post-padded.
    x, _ = sequences(rng, 12, (1, 7), 3, "post")
    y = rng.integers(0, 2, (12, 1)).astype(np.float32)
    out.append(("stacked_masked_lstm_adam_bce", lambda: keras.Model(*chain(
        keras.Input((None, 3)), layers.Masking(0.0), layers.LSTM(5, return_sequences=True),
        layers.LSTM(4), layers.Dense(1, activation="sigmoid"))),
        "binary_crossentropy", adam, 5, ["accuracy"], x, y))
    return out


def bidirectional_gru_cases():
    """Bidirectional GRUs with merge_mode "sum" on post- and pre-padded masked batches (the
    final states summed), and on a post-padded batch with return_sequences (every step summed,
    the backward outputs flipped back, 0 at masked steps) under a masked sequence loss."""
    rng = np.random.default_rng(20261204)
    out = []
    for padding, opt in [("post", ("adam", {"learning_rate": 0.001})),
                         ("pre", ("rmsprop", {"learning_rate": 0.001}))]:
        x, _ = sequences(rng, 13, (1, 7), 4, padding)
        y = rng.integers(0, 2, (13, 1)).astype(np.float32)
        out.append((f"bidirectional_gru_sum_{padding}_{opt[0]}_bce", lambda: keras.Model(*chain(
            keras.Input((None, 4)), layers.Masking(0.0),
            layers.Bidirectional(layers.GRU(5), merge_mode="sum"),
            layers.Dense(1, activation="sigmoid"))),
            "binary_crossentropy", opt, 4, ["accuracy"], x, y))
    x, _ = sequences(rng, 11, (2, 6), 3, "post")
    y = rng.integers(0, 3, x.shape[:2]).astype(np.float32)
    out.append(("bidirectional_gru_sum_sequences_adam_scce", lambda: keras.Model(*chain(
        keras.Input((None, 3)), layers.Masking(0.0),
        layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="sum"),
        layers.Dense(3, activation="softmax"))),
        "sparse_categorical_crossentropy", ("adam", {"learning_rate": 0.001}), 4,
        ["accuracy"], x, y))
    return out


def state_cases():
    """Encoder-decoders (seq2seq): a masked encoder's return_state feeds the decoder's
    initial_state; an LSTM pair and a GRU pair; from their own generator."""
    rng = np.random.default_rng(20261203)
    adam = ("adam", {"learning_rate": 0.001})
    out = []
    for kind, rnn, opt in [("lstm", layers.LSTM, adam),
                           ("gru", layers.GRU, ("rmsprop", {"learning_rate": 0.001}))]:
        src, _ = sequences(rng, 11, (2, 6), 3, "post")
        tgt = rng.normal(size=(11, 4, 2)).astype(np.float32)
        y = rng.integers(0, 3, (11, 4)).astype(np.float32)

        def build(rnn=rnn):
            s = keras.Input((None, 3), name="source")
            t = keras.Input((None, 2), name="target")
            encoded = rnn(5, return_state=True)(layers.Masking(0.0)(s))
            decoded = rnn(5, return_sequences=True)(t, initial_state=list(encoded[1:]))
            return keras.Model([s, t], layers.Dense(3, activation="softmax")(decoded))
        out.append(dict(name=f"seq2seq_{kind}_{opt[0]}_scce", build=build, x=[src, tgt], y=[y],
                        loss="sparse_categorical_crossentropy", metrics=["accuracy"], opt=opt,
                        batch_size=4, note=f"Masking->{kind.upper()}(5, return_state) encoder; "
                        f"{kind.upper()}(5, return_sequences, initial_state=its states) decoder "
                        "on a second input; Dense(3, softmax) per step"))
    return out



def bidirectional_state_cases():
    """Bidirectional with return_state and initial_state (issue 17, item 5): Keras returns
    [output, forward states..., backward states...] and gives a call's initial_state[:n] to
    the forward layer and initial_state[n:] to the backward one. An encoder
    Bidirectional(LSTM(4, return_state)) over a masked post-padded source whose [h_f, h_b] and
    [c_f, c_b] start an LSTM(8) decoder; a Bidirectional(GRU(3), "sum") over a masked
    pre-padded batch started from two Dense(3, tanh) layers of a second input."""
    rng = np.random.default_rng(20261205)
    out = []
    src, _ = sequences(rng, 11, (2, 6), 3, "post")
    tgt = rng.normal(size=(11, 4, 2)).astype(np.float32)
    y = rng.integers(0, 3, (11, 4)).astype(np.float32)

    def encoder_decoder():
        s = keras.Input((None, 3), name="source")
        t = keras.Input((None, 2), name="target")
        _, h_f, c_f, h_b, c_b = layers.Bidirectional(layers.LSTM(4, return_state=True))(
            layers.Masking(0.0)(s))
        h = layers.Concatenate()([h_f, h_b])
        c = layers.Concatenate()([c_f, c_b])
        decoded = layers.LSTM(8, return_sequences=True)(t, initial_state=[h, c])
        return keras.Model([s, t], layers.Dense(3, activation="softmax")(decoded))
    out.append(dict(name="bidirectional_states_lstm_adam_scce", build=encoder_decoder,
                    x=[src, tgt], y=[y], loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"], opt=("adam", {"learning_rate": 0.001}), batch_size=4,
                    note="Masking->Bidirectional(LSTM(4, return_state)) encoder (its merged "
                    "output unused); Concatenate [h_f, h_b] and [c_f, c_b] the initial_state "
                    "of an LSTM(8, return_sequences) decoder on a second input; Dense(3, "
                    "softmax) per step"))
    x, _ = sequences(rng, 13, (1, 7), 4, "pre")
    s0 = rng.normal(size=(13, 2)).astype(np.float32)
    y = rng.integers(0, 2, (13, 1)).astype(np.float32)

    def gru_from_state():
        x_in = keras.Input((None, 4), name="sequence")
        s_in = keras.Input((2,), name="state")
        h_f = layers.Dense(3, activation="tanh")(s_in)
        h_b = layers.Dense(3, activation="tanh")(s_in)
        masked = layers.Masking(0.0)(x_in)
        # Keras fills in `mask` only for a call with one tensor argument: with initial_state
        # tensors it drops the mask unless given (eagerly it is given); wgfit always uses it.
        both = layers.Bidirectional(layers.GRU(3), merge_mode="sum")(
            masked, initial_state=[h_f, h_b], mask=get_keras_mask(masked))
        return keras.Model([x_in, s_in], layers.Dense(1, activation="sigmoid")(both))
    out.append(dict(name="bidirectional_gru_initial_state_rmsprop_bce", build=gru_from_state,
                    x=[x, s0], y=[y], loss="binary_crossentropy", metrics=["accuracy"],
                    opt=("rmsprop", {"learning_rate": 0.001}), batch_size=4,
                    note="Masking->Bidirectional(GRU(3), merge_mode='sum') over a pre-padded "
                    "sequence, called with initial_state=[Dense(3, tanh)(state), Dense(3, "
                    "tanh)(state)] of a second input and the Masking's mask (given: Keras "
                    "drops it from a call with initial_state tensors); Dense(1, sigmoid)"))
    return out
def run_normalization(outdir):
    """Normalization adapted on variable-length sequences (one batch each, so the padding is
    never counted), then Masking -> Normalization -> LSTM -> Dense(sigmoid): the adapted
    mean and variance, Keras's weight order (trainable, then mean, variance, count), the
    predictions and one train_on_batch."""
    name = "normalization_masked_lstm_adam_bce"
    rng = np.random.default_rng(20261202)
    lens = rng.integers(1, 10, 13)
    scales = np.array([1.0, 10.0, 0.01], np.float32)
    shifts = np.array([0.0, 5.0, -2.0], np.float32)
    xs = [(rng.uniform(-1, 1, (n, 3)) * scales + shifts).astype(np.float32) for n in lens]
    norm = layers.Normalization()
    norm.adapt([s[None] for s in xs])
    t = lens.max()
    x = np.zeros((len(xs), t, 3), np.float32)
    for i, seq in enumerate(xs):
        x[i, :len(seq)] = seq
    y = rng.integers(0, 2, (len(xs), 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Model(*chain(keras.Input((None, 3)), layers.Masking(0.0), norm,
                               layers.LSTM(4), layers.Dense(1, activation="sigmoid")))
    names = wgfit_names(model)
    # Keras's get_weights: each layer's trainable weights, then its non-trainable ones.
    assert [v.path.split("/")[-1] for v in model.weights][:3] == ["mean", "variance", "count"]
    init = known_weights(model, np.random.default_rng(5))
    for v, w in zip(model.trainable_variables, init):
        v.assign(w)
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="binary_crossentropy")
    pred = model.predict(x, batch_size=5, verbose=0)
    step = model.train_on_batch(x[:5], y[:5], return_dict=True)
    step1 = [v.numpy() for v in model.trainable_variables]
    tensors = {"x": x, "y": y, "pred": pred, "lengths": lens.astype(np.float32),
               "mean": np.asarray(norm.adapt_mean), "variance": np.asarray(norm.adapt_variance)}
    tensors.update(tensors_of("init", names, init))
    tensors.update(tensors_of("step1", names, step1))
    save(outdir, name, tensors, {"loss": "binary_crossentropy", "batch_size": 5,
                                 "optimizer": {"name": "adam", "learning_rate": 0.001},
                                 "first_batch_loss": float(step["loss"]), "history": {}})


# The text golden's corpus: ties in counts, ASCII punctuation (stripped), non-ASCII letters and
# punctuation (kept: tf.strings.lower and Keras's regex are ASCII-only), every ASCII whitespace
# (\v and \f included) and a no-break space (not a separator), empty and all-punctuation texts.
TEXT_CORPUS = [
    "The cat sat on the mat.",
    "THE DOG ate my homework!!",
    "Caf\u00e9 CR\u00c8ME, s'il vous pla\u00eet \u2014 \u00c9COLE \u00ab\u00a0quoi\u00a0\u00bb",
    "dog-eat-dog world; it's a cat's life",
    "  multiple   spaces\tand\ttabs\nnewline\r\n",
    "",
    "!!! ... ???",
    "na\u00efve \u65e5\u672c\u8a9e text \U0001F642 emoji [UNK] [unk]",
    "b a c b a c z y x",
    "vertical\x0btab and\x0cformfeed the end",
]
TEXT_QUERIES = TEXT_CORPUS + ["an unseen zebra", "THE the The tHe", "x"]

# (case, TextVectorization kwargs, given vocabulary or None to adapt)
TEXT_CASES = [
    ("default", {}, None),
    ("max_tokens", {"max_tokens": 8, "output_sequence_length": 5}, None),
    ("long_sequence", {"output_sequence_length": 12}, None),
    ("ragged", {"ragged": True}, None),
    ("ngrams", {"ngrams": 2, "max_tokens": 20}, None),
    ("lower_only", {"standardize": "lower"}, None),
    ("no_standardize", {"standardize": None}, None),
    ("multi_hot", {"output_mode": "multi_hot", "max_tokens": 10}, None),
    ("count", {"output_mode": "count"}, None),
    ("vocabulary", {}, ["the", "cat", "dog", "zebra"]),
    ("vocabulary_special", {}, ["", "[UNK]", "the", "cat"]),
]

# (case, StringLookup kwargs, given vocabulary or None to adapt)
STRING_LOOKUP_DATA = [["a", "b", "c", "b"], ["a", "d", "b", "a"], ["e", "", "[UNK]", "c"]]
STRING_LOOKUP_QUERY = [["a", "b", "zz", ""], ["e", "[UNK]", "q", "d"], ["c", "x", "y", "w"]]
STRING_LOOKUP_CASES = [
    ("default", {}, None),
    ("max_tokens", {"max_tokens": 3}, None),
    ("mask", {"mask_token": ""}, None),
    ("two_oov", {"num_oov_indices": 2, "mask_token": "[MASK]"}, None),
    ("no_oov", {"num_oov_indices": 0}, ["a", "b", "c", "d", "e", "", "[UNK]"]),
    ("vocabulary", {"mask_token": "", "oov_token": "<oov>"}, ["x", "y", "a"]),
    ("multi_hot", {"output_mode": "multi_hot"}, None),
    ("count", {"output_mode": "count", "mask_token": ""}, None),
]
INTEGER_LOOKUP_DATA = [[12, 1138, 42, 42], [42, 7, 7, 1000], [0, -1, 5, 12]]
INTEGER_LOOKUP_QUERY = [[12, 1000, 99, 0], [-1, -7, 5, 42], [13, 14, 15, 7]]
INTEGER_LOOKUP_CASES = [
    ("default", {}, None),
    ("max_tokens", {"max_tokens": 4}, None),
    ("mask", {"mask_token": 0}, None),
    ("two_oov", {"num_oov_indices": 2, "mask_token": 0}, None),
    ("no_oov", {"num_oov_indices": 0}, [12, 1138, 42, 7, 1000, 0, -1, 5, 99, -7, 13, 14, 15]),
    ("vocabulary", {"mask_token": 0, "oov_token": -1}, [5, 7, 12]),
    ("multi_hot", {"output_mode": "multi_hot"}, None),
    ("count", {"output_mode": "count", "mask_token": 0}, None),
]


def text_list(t):
    """Nested Python lists of a tensor's values, strings decoded from UTF-8."""
    v = t.to_list() if hasattr(t, "to_list") else np.asarray(t).tolist()

    def conv(x):
        if isinstance(x, list):
            return [conv(e) for e in x]
        if isinstance(x, bytes):
            return x.decode("utf-8")
        return x.item() if hasattr(x, "item") else x
    return conv(v)


def lookup_case(cls, kwargs, vocab, data, query):
    layer = cls(**kwargs, vocabulary=vocab)
    if vocab is None:
        layer.adapt(np.array(data))
    case = {"kwargs": kwargs, "vocabulary_in": vocab, "vocabulary": text_list(
        layer.get_vocabulary()), "vocabulary_size": int(layer.vocabulary_size())}
    # Without OOV indices an unknown token is an error, so that case looks up its data.
    query = data if kwargs.get("num_oov_indices") == 0 else query
    case["query"] = query
    case["ids"] = text_list(layer(np.array(query)))
    if kwargs.get("output_mode", "int") == "int":
        ids = np.array([[0, 1, 2, 3, 4, 5], [6, 7, 8, 100, -1, 2]])
        case["invert_query"] = ids.tolist()
        try:
            inverse = cls(**kwargs, vocabulary=layer.get_vocabulary(), invert=True)
            case["invert"] = text_list(inverse(ids))
        except ValueError as e:  # the OOV token among the tokens: refused when inverting
            case["invert_error"] = str(e).splitlines()[0]
    return case


def run_text(outdir):
    """`text_lookup`: TextVectorization (TEXT_CASES: vocabulary adapted on TEXT_CORPUS or
    given, ids of TEXT_QUERIES, the tokens after standardize + split), StringLookup and
    IntegerLookup (adapted or given, ids of a query, the inverse lookup of ids). Strings and
    ids are exact, so the golden is JSON only."""
    import tensorflow as tf
    text = []
    for name, kwargs, vocab in TEXT_CASES:
        tv = layers.TextVectorization(**kwargs, vocabulary=vocab)
        if vocab is None:
            tv.adapt(TEXT_CORPUS)
        out = tv(tf.constant(TEXT_QUERIES))
        text.append({"case": name, "kwargs": kwargs, "vocabulary_in": vocab,
                     "vocabulary": text_list(tv.get_vocabulary()),
                     "tokens": text_list(tv._preprocess(tf.constant(TEXT_QUERIES))),
                     "ids": text_list(out)})
    strings = [dict(case=n, **lookup_case(layers.StringLookup, k, v, STRING_LOOKUP_DATA,
                                          STRING_LOOKUP_QUERY))
               for n, k, v in STRING_LOOKUP_CASES]
    integers = [dict(case=n, **lookup_case(layers.IntegerLookup, k, v, INTEGER_LOOKUP_DATA,
                                           INTEGER_LOOKUP_QUERY))
                for n, k, v in INTEGER_LOOKUP_CASES]
    # FarmHash Fingerprint64 (what the OOV buckets of StringLookup hash with) on every length
    # branch of it: 0..=16, 17..=32, 33..=64 and the 64-byte loop, with a partial last block.
    lengths = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200]
    samples = ["".join(chr(97 + (i * 7 + n) % 26) for i in range(n)) for n in lengths]
    samples += ["\u65e5\u672c\u8a9e", "caf\u00e9 cr\u00e8me", "[UNK]"]
    big = 2**63 - 1
    fingerprints = [[s, int(b)] for s, b in zip(samples, tf.strings.to_hash_bucket_fast(
        samples, big).numpy())]
    info = {"case": "text_lookup", "keras": keras.__version__, "tensorflow": tf.__version__,
            "fingerprint_mod_2_63_minus_1": fingerprints,
            "generated_by": "tools/keras_golden.py", "corpus": TEXT_CORPUS,
            "queries": TEXT_QUERIES, "text_vectorization": text,
            "string_lookup": {"data": STRING_LOOKUP_DATA, "query": STRING_LOOKUP_QUERY,
                              "cases": strings},
            "integer_lookup": {"data": INTEGER_LOOKUP_DATA, "query": INTEGER_LOOKUP_QUERY,
                               "cases": integers}}
    with open(os.path.join(outdir, "text_lookup.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"text_lookup: {len(text)} TextVectorization, {len(strings)} StringLookup, "
          f"{len(integers)} IntegerLookup cases")


# Keras on TensorFlow applies Adam to an Embedding's sparse gradient with the square of each
# occurrence's gradient summed (not the square of the summed gradient) when a token repeats in a
# batch; Keras on JAX (and PyTorch) and wgfit use the dense formula. These cases come from JAX.
JAX_CASES = {"embedding_lstm_adam_bce", "graph_embedding_branch"}


def main(argv=None):
    """`keras_golden.py [OUTDIR [CASE ...]]`: every case, or only the named ones."""
    argv = sys.argv[1:] if argv is None else argv
    outdir = argv[0] if argv else "tests/golden"
    wanted = set(argv[1:])
    os.makedirs(outdir, exist_ok=True)
    on_jax = keras.backend.backend() == "jax"
    plain, graph = cases(), graph_cases() + weighted_cases()
    graph += state_cases()
    graph += bidirectional_state_cases()
    plain += gru_cases()
    plain += simple_rnn_cases()
    plain += bidirectional_cases()
    plain += bidirectional_gru_cases()
    extra = ["bucketed_masked_lstm_adam_bce", "keras_trained_digits"]
    extra.append("normalization_masked_lstm_adam_bce")
    extra.append("timeseries_windows")
    extra.append("text_lookup")
    dropout = dropout_cases()
    import golden_rnn_dropout
    rnn_dropout = golden_rnn_dropout.cases(keras, layers, sequences)
    extra += [c[0] for c in rnn_dropout]
    known = [c[0] for c in plain] + [c["name"] for c in graph] + extra
    known += [c[0] for c in dropout]
    unknown = wanted - set(known)
    if unknown:
        sys.exit(f"unknown case(s) {sorted(unknown)}; known: {known}")
    chosen = set(known) if not wanted else wanted
    for case in plain:
        if case[0] in chosen and (case[0] in JAX_CASES) == on_jax:
            run_case(outdir, *case)
    for case in graph:
        if case["name"] in chosen and (case["name"] in JAX_CASES) == on_jax:
            run_graph_case(outdir, case)
    if not on_jax:
        for case in (c for c in dropout if c[0] in chosen):
            run_dropout_case(outdir, *case)
        if "bucketed_masked_lstm_adam_bce" in chosen:
            run_bucketed(outdir)
        if "keras_trained_digits" in chosen:
            run_keras_trained_digits(outdir)
        if "normalization_masked_lstm_adam_bce" in chosen:
            run_normalization(outdir)
        if "timeseries_windows" in chosen:
            run_timeseries(outdir)
        helpers = {"keras": keras, "layers": layers, "sequences": sequences,
                   "known_weights": known_weights, "wgfit_names": wgfit_names,
                   "first_batch_gradients": first_batch_gradients, "tensors_of": tensors_of,
                   "save": save}
        for name, build, gates in rnn_dropout:
            if name in chosen:
                golden_rnn_dropout.run(outdir, name, build, gates, helpers)
        if "text_lookup" in chosen:
            run_text(outdir)
        if chosen & JAX_CASES:
            env = {**os.environ, "KERAS_BACKEND": "jax"}
            subprocess.run([sys.executable, __file__, outdir, *sorted(chosen & JAX_CASES)],
                           env=env, check=True)


if __name__ == "__main__":
    main()
