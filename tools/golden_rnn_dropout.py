"""Keras parity of a recurrent layer's `dropout` and `recurrent_dropout` (issue 17), for
`keras_golden.py`: Keras with the masks wgfit draws.

Keras draws its masks from its own generator, so the cases give Keras wgfit's: `wgfit_mask`
is wgfit's counter-based draw (`ops::dropout::keep_hash`, xxHash32 of seed, counter and
index, kept where the hash is at least `ceil(rate * 2^32)`, scaled by `1 / (1 - rate)`), and
each cell's `_create_dropout_mask` is replaced by one returning the masks of the layer's
seed and the call's counters. A layer with `seed(s)` draws, on its k-th training call, its
input masks with counter 2k and its recurrent masks with 2k + 1 (`[G, B, F]` and `[G, B, U]`
with recurrent dropout: Keras's implementation 1, one mask per gate; G = 1 for SimpleRNN).
So Keras's gradients of the first batch (call 0) and its weights after one SGD step (call 1)
are what wgfit must give with the same seed.
"""

import numpy as np

P1, P2, P3 = 2654435761, 2246822519, 3266489917
M32 = 0xFFFFFFFF


def _rotl(x, r):
    return ((x << r) | (x >> (32 - r))) & M32


def _lane(acc, word):
    return (_rotl((acc + word * P2) & M32, 13) * P1) & M32


def keep_hash(seed, counter, index):
    """wgfit's `ops::dropout::keep_hash`, on numpy uint64 arrays holding u32 values."""
    s = seed & M32
    v1 = _lane((s + P1 + P2) & M32, (seed >> 32) & M32)
    v2 = _lane((s + P2) & M32, counter & M32)
    v3 = _lane(s, (counter >> 32) & M32)
    v4 = _lane(np.uint64((s - P1) & M32), index)
    h = (_rotl(np.uint64(v1), 1) + _rotl(np.uint64(v2), 7) + _rotl(np.uint64(v3), 12)
         + _rotl(v4, 18) + 16) & M32
    h = ((h ^ (h >> 15)) * P2) & M32
    h = ((h ^ (h >> 13)) * P3) & M32
    return h ^ (h >> 16)


def wgfit_mask(dims, rate, seed, counter):
    """wgfit's `dropout_mask(dims, rate, seed, counter)` (rate as the f32 wgfit holds)."""
    rate = float(np.float32(rate))
    threshold = min(int(np.ceil(rate * 4294967296.0)), M32)
    scale = np.float32(1.0 / (1.0 - rate))
    n = int(np.prod(dims))
    h = keep_hash(seed, counter, np.arange(n, dtype=np.uint64))
    return np.where(h >= threshold, scale, np.float32(0.0)).astype(np.float32).reshape(dims)


SEED = 20261202
RATES = (0.3, 0.25)


def cases(keras, layers, sequences):
    """(name, build, gates) for Masking -> RNN(5, dropout 0.3, recurrent_dropout 0.25) ->
    Dense sigmoid, for each kind, on a post-padded batch of 6 sequences of 4 features."""
    def model(rnn):
        return lambda: keras.Sequential([keras.Input((None, 4)), layers.Masking(0.0), rnn(),
                                         layers.Dense(1, activation="sigmoid")])
    kw = {"dropout": RATES[0], "recurrent_dropout": RATES[1]}
    return [
        ("lstm_dropout_masks_sgd_bce", model(lambda: layers.LSTM(5, **kw)), 4),
        ("gru_dropout_masks_sgd_bce", model(lambda: layers.GRU(5, **kw)), 3),
        ("simple_rnn_dropout_masks_sgd_bce", model(lambda: layers.SimpleRNN(5, **kw)), 1),
    ]


def run(outdir, name, build, gates, h):
    """One case; `h` holds keras_golden's helpers (keras, layers, sequences, known_weights,
    wgfit_names, first_batch_gradients, tensors_of, save)."""
    import zlib
    keras = h["keras"]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x, _ = h["sequences"](rng, 6, (2, 7), 4, "post")
    y = rng.integers(0, 2, (6, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build()
    names = h["wgfit_names"](model)
    init = h["known_weights"](model, rng)
    model.set_weights(init)
    cell = model.layers[1].cell
    call = {"k": 0, "drawn": []}

    def create(step_input, rate):
        f = int(step_input.shape[-1])
        b = int(step_input.shape[0])
        recurrent = f == cell.units
        assert np.isclose(rate, RATES[1] if recurrent else RATES[0]), (rate, f)
        count = getattr(cell, "dropout_mask_count", None)
        call["drawn"].append((call["k"], recurrent))
        masks = wgfit_mask([count or 1, b, f], rate, SEED, 2 * call["k"] + int(recurrent))
        return [masks[g] for g in range(count)] if count else masks[0]

    assert (getattr(cell, "dropout_mask_count", None) or 1) == gates
    cell._create_dropout_mask = create
    # Eager, so that every call asks for its masks (a traced step would keep the first ones).
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5),
                  loss="binary_crossentropy", run_eagerly=True)
    pred = model.predict(x, verbose=0)
    call["k"] = 0
    first_loss, grads = h["first_batch_gradients"](model, "binary_crossentropy", x, y)
    call["k"] = 1
    step = model.train_on_batch(x, y, return_dict=True)
    step1 = model.get_weights()
    # Keras asked for exactly these masks: both kinds on each of the two training calls.
    assert sorted(set(call["drawn"])) == [(0, False), (0, True), (1, False), (1, True)], call
    tensors = {"x": x, "y": y, "pred": pred}
    # The masks Keras was given, so that the test can check wgfit draws these very ones.
    units = cell.units
    for k in range(2):
        tensors[f"mask.input.{k}"] = wgfit_mask([gates, 6, 4], RATES[0], SEED, 2 * k)
        tensors[f"mask.recurrent.{k}"] = wgfit_mask([gates, 6, units], RATES[1], SEED, 2 * k + 1)
    tensors.update(h["tensors_of"]("init", names, init))
    tensors.update(h["tensors_of"]("grad", names, grads))
    tensors.update(h["tensors_of"]("step1", names, step1))
    h["save"](outdir, name, tensors, {
        "loss": "binary_crossentropy", "optimizer": {"name": "sgd", "learning_rate": 0.5},
        "batch_size": 6, "metrics": [], "first_batch_loss": float(first_loss),
        "step_loss": float(step["loss"]), "seed": SEED,
        "dropout": RATES[0], "recurrent_dropout": RATES[1], "history": {},
    })
