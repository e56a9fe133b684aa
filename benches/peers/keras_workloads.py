#!/usr/bin/env python3
"""The performance issues' workloads W1-W6u in Keras 3, whole-process, one per run; prints the
line `examples/workloads.rs` prints for wgfit (run by hand where TensorFlow is installed):

    python benches/peers/keras_workloads.py W2         # W1 W2 W3 W4 W4u W5 W5u W6 W6u

Same recipe as examples/workloads.rs: uniform [0, 1) features (never 0 inside a sequence),
random labels, Adam with Keras's defaults; sequences post-padded with zeros (to 19 for W3, to
100 for W4-W6) and masked with Masking(0.0) (the `u` variants: no Masking). W5 is W4 with a
GRU(128) (Keras's defaults, reset_after=True), W6 with a Bidirectional(LSTM(64)) (concat).
`samples_per_s` is the steady rate over the epochs after the first (all epochs for W1 and W3);
`wall_s` includes the imports.
"""

import resource
import sys
import time

START = time.perf_counter()

import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ends = [time.perf_counter()]

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


def mlp(rng, n):
    x = rng.random((n, 28, 28), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 10, n), 10)
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
                              layers.Dense(128, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    return model, x, y, "categorical_crossentropy"


def lstm(rng, n, lengths, units, masked, rnn=layers.LSTM):
    t = lengths[1]
    x = np.zeros((n, t, 10), np.float32)
    for i in range(n):
        length = rng.integers(lengths[0], lengths[1] + 1)
        x[i, :length] = rng.uniform(np.finfo(np.float32).eps, 1.0, (length, 10))
    y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    inputs = keras.Input((None, 10))
    h = layers.Masking(0.0)(inputs) if masked else inputs
    outputs = layers.Dense(1, activation="sigmoid")(rnn(units)(h))
    return keras.Model(inputs, outputs), x, y, "binary_crossentropy"


def bidirectional_lstm(units):
    return layers.Bidirectional(layers.LSTM(units))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "W1"
    rng = np.random.default_rng(0)
    model, x, y, loss = {
        "W1": lambda: mlp(rng, 1000),
        "W2": lambda: mlp(rng, 60000),
        "W3": lambda: lstm(rng, 10, (10, 19), 32, True),
        "W4": lambda: lstm(rng, 2000, (10, 100), 128, True),
        "W4u": lambda: lstm(rng, 2000, (10, 100), 128, False),
        "W5": lambda: lstm(rng, 2000, (10, 100), 128, True, layers.GRU),
        "W5u": lambda: lstm(rng, 2000, (10, 100), 128, False, layers.GRU),
        "W6": lambda: lstm(rng, 2000, (10, 100), 64, True, bidirectional_lstm),
        "W6u": lambda: lstm(rng, 2000, (10, 100), 64, False, bidirectional_lstm),
    }[name]()
    batch_size, epochs = {"W1": (32, 10), "W2": (128, 3), "W3": (2, 10), "W4": (64, 3),
                          "W4u": (64, 3), "W5": (64, 3), "W5u": (64, 3), "W6": (64, 3),
                          "W6u": (64, 3)}[name]
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    clock = EpochClock()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[clock])
    first = 0 if name in ("W1", "W3") else 1
    seconds = clock.ends[-1] - clock.ends[first]
    samples = len(x) * (len(clock.ends) - 1 - first)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'workload={name} tool=keras-{keras.__version__}/{keras.backend.backend()} '
          f'device="cpu" samples_per_s={samples / seconds:.0f} '
          f'wall_s={time.perf_counter() - START:.2f} peak_rss_mib={rss:.0f} '
          f'final_loss={history.history["loss"][-1]:.4f}')


if __name__ == "__main__":
    main()
