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
files and never needs TensorFlow.
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
from safetensors.numpy import save_file  # noqa: E402

KINDS = {"Dense": "dense", "LSTM": "lstm", "Embedding": "embedding", "Flatten": "flatten",
         "Masking": "masking"}
ROLES = {"dense": ["kernel", "bias"], "lstm": ["kernel", "recurrent_kernel", "bias"],
         "embedding": ["embeddings"]}


def wgfit_names(model):
    """wgfit's weight names, in the order of `model.trainable_variables`."""
    names = []
    real = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    for i, layer in enumerate(real):
        kind = KINDS[type(layer).__name__]
        for role in ROLES.get(kind, []):
            names.append(f"layers.{i}.{kind}.{role}")
    assert len(names) == len(model.trainable_variables), (names, model.trainable_variables)
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


def chain(inputs, *ls):
    h = inputs
    for layer in ls:
        h = layer(h)
    return inputs, h


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


# Keras on TensorFlow applies Adam to an Embedding's sparse gradient with the square of each
# occurrence's gradient summed (not the square of the summed gradient) when a token repeats in a
# batch; Keras on JAX (and PyTorch) and wgfit use the dense formula. These cases come from JAX.
JAX_CASES = {"embedding_lstm_adam_bce"}


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(outdir, exist_ok=True)
    on_jax = keras.backend.backend() == "jax"
    for case in cases():
        if (case[0] in JAX_CASES) == on_jax:
            run_case(outdir, *case)
    if not on_jax:
        run_bucketed(outdir)
        run_keras_trained_digits(outdir)
        env = {**os.environ, "KERAS_BACKEND": "jax"}
        subprocess.run([sys.executable, __file__, outdir], env=env, check=True)


if __name__ == "__main__":
    main()
