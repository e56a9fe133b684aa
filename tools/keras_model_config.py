"""A Keras 3 model's `config.json` as a wgfit model file's architecture (the JSON `Model::save`
writes: src/model/config.rs), for tools/keras_to_wgfit.py. numpy-free, Keras-free.

Every key of every layer's config is accounted for: converted, known to have no effect on a
trained model (initializers: the weights come from the file), or required to be at the value
wgfit implements. Anything else is a `Refused` naming the layer and the option, so nothing is
silently dropped. Keras 3's functional configs also list the operations Keras traced to
compute masks (`NotEqual`, `Any`, ... from `keras.src.ops`); wgfit computes masks itself, so
those only pass where they feed a `mask=` argument.
"""

import json
import sys

import keras_masks

FORMAT_VERSION = 1


class Refused(Exception):
    """A model, layer or option wgfit cannot take; the message names it."""


def note(msg):
    print(f"keras_to_wgfit: {msg}", file=sys.stderr)


KINDS = {"Dense": "dense", "Embedding": "embedding", "Masking": "masking",
         "Flatten": "flatten", "Dropout": "dropout", "SpatialDropout1D": "spatial_dropout1d",
         "Normalization": "normalization", "LSTM": "lstm", "GRU": "gru",
         "SimpleRNN": "simple_rnn", "Bidirectional": "bidirectional",
         "Concatenate": "concatenate", "Add": "add", "Subtract": "subtract",
         "Multiply": "multiply", "Average": "average", "Maximum": "maximum",
         "Minimum": "minimum"}
RECURRENT = {"LSTM", "GRU", "SimpleRNN"}
STATES = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}
ACTIVATIONS = {"linear", "relu", "sigmoid", "tanh", "softmax"}
# Keys no layer's trained behaviour depends on: initializers only make the first weights.
INITIALIZERS = {"kernel_initializer", "bias_initializer", "recurrent_initializer",
                "embeddings_initializer", "unit_forget_bias"}
UNSET = ["kernel_regularizer", "bias_regularizer", "recurrent_regularizer",
         "activity_regularizer", "embeddings_regularizer", "kernel_constraint",
         "bias_constraint", "recurrent_constraint", "embeddings_constraint",
         "quantization_config", "lora_rank", "lora_alpha", "noise_shape", "mean", "variance"]
# Per class: the keys wgfit takes as they are, and those wgfit fixes (their only value).
TAKES = {
    "Dense": {"units", "activation", "use_bias"},
    "Embedding": {"input_dim", "output_dim", "mask_zero"},
    "Masking": {"mask_value"},
    "Flatten": set(),
    "Dropout": {"rate", "seed"},
    "SpatialDropout1D": {"rate", "seed"},
    "Normalization": {"axis", "invert"},
    "Concatenate": {"axis"},
}
for _merge in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
    TAKES[_merge] = set()
RNN_TAKES = {"units", "return_sequences", "return_state", "dropout", "recurrent_dropout",
             "seed"}
FIXED = {"Embedding": {"sparse": False, "input_length": None},
         "Flatten": {"data_format": "channels_last"}}
RNN_FIXED = {"activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True,
             "go_backwards": False, "stateful": False, "zero_output_for_mask": False}


def is_op(entry):
    """An operation Keras traced (to compute a mask), not a layer of `model.layers`."""
    return entry.get("module", "").startswith("keras.src.ops")


def check_common(where, cfg):
    if cfg.get("trainable", True) is not True:
        raise Refused(f"{where}: option trainable = false (frozen layers) is not supported")
    dtype = cfg.get("dtype", "float32")
    if isinstance(dtype, dict):
        dtype = dtype.get("config", {}).get("name")
    if dtype not in (None, "float32"):
        raise Refused(f"{where}: option dtype = {dtype!r} is not supported (wgfit is float32)")


def layer_config(entry, inside=None, backward=False):
    """(class_name, wgfit config) of one Keras layer entry; `inside` names a Bidirectional
    (whose `backward` direction runs backwards)."""
    cls, cfg = entry["class_name"], dict(entry["config"])
    name = cfg.get("name", inside or "?")
    where = f"layer '{name}' ({cls})" if inside is None else f"{inside}'s {cls}"
    if cls not in KINDS:
        raise Refused(f"{where}: wgfit has no {cls} layer (it has {', '.join(KINDS)})")
    check_common(where, cfg)
    out = {} if inside else {"name": name}
    takes = RNN_TAKES | ({"reset_after"} if cls == "GRU" else set()) \
        if cls in RECURRENT else TAKES.get(cls, set())
    fixed = dict(RNN_FIXED) if cls in RECURRENT else dict(FIXED.get(cls, {}))
    if cls == "SimpleRNN":
        fixed.pop("recurrent_activation")
    if inside is not None:
        # Keras's Bidirectional sets it to return_sequences on both directions itself.
        fixed["zero_output_for_mask"] = cfg.get("return_sequences", False)
        fixed["go_backwards"] = backward
    for key, value in cfg.items():
        if key in ("name", "trainable", "dtype") or key in INITIALIZERS:
            continue
        if key == "unroll" and cls in RECURRENT:
            if value:
                note(f"{where}: unroll = true only changes how Keras runs the loop, not what "
                     "it computes; wgfit runs its own loop")
            continue
        if key in takes:
            out[key] = value
        elif key in fixed:
            if value != fixed[key]:
                raise Refused(f"{where}: option {key} = {json.dumps(value)} is not supported "
                              f"(wgfit's {cls} has {key} = {json.dumps(fixed[key])})")
        elif key in UNSET:
            if value is not None:
                raise Refused(f"{where}: option {key} = {json.dumps(value)} is not supported "
                              "(wgfit has none)")
        elif cls == "Bidirectional" and key in ("layer", "backward_layer", "merge_mode"):
            continue
        else:
            raise Refused(f"{where}: option {key} = {json.dumps(value)} is not one wgfit "
                          "knows")
    if "activation" in out and (not isinstance(out["activation"], str)
                                or out["activation"] not in ACTIVATIONS):
        raise Refused(f"{where}: option activation = {json.dumps(out['activation'])} is not "
                      f"supported (wgfit has {', '.join(sorted(ACTIVATIONS))})")
    if cls in RECURRENT:
        out.update({k: v for k, v in RNN_FIXED.items() if k != "zero_output_for_mask"})
        if cls == "SimpleRNN":
            out.pop("recurrent_activation")
        out.setdefault("seed", None)
        out.setdefault("dropout", 0.0)
        out.setdefault("recurrent_dropout", 0.0)
        if cls == "GRU":
            out.setdefault("reset_after", True)
    if cls in ("Dropout", "SpatialDropout1D"):
        out.setdefault("seed", None)
    if cls == "Embedding":
        out["input_length"] = None
    if cls == "Normalization":
        axis = out.get("axis", -1)
        if axis == [] or axis is None:
            axis = None  # Keras's axis=None: one mean and variance over all values
        elif isinstance(axis, list):
            if len(axis) != 1:
                raise Refused(f"{where}: option axis = {axis} is not supported (wgfit "
                              "normalizes over the last axis, or none)")
            axis = axis[0]
        out["axis"] = axis
        out.setdefault("invert", False)
    if cls == "Concatenate":
        out.setdefault("axis", -1)
    if cls == "Bidirectional":
        merge = cfg.get("merge_mode", "concat")
        if merge not in ("concat", "sum", "mul", "ave", None):
            raise Refused(f"{where}: option merge_mode = {merge!r} is not supported")
        inner_cls, inner = layer_config(cfg["layer"], inside=f"layer '{name}'")
        if inner_cls not in RECURRENT:
            raise Refused(f"{where}: wgfit wraps LSTM, GRU or SimpleRNN, not {inner_cls}")
        if cfg.get("backward_layer"):
            b_cls, b = layer_config(cfg["backward_layer"], f"layer '{name}'", True)
            same = {k: v for k, v in b.items() if k != "seed"}
            if b_cls != inner_cls or same != {k: v for k, v in inner.items() if k != "seed"}:
                raise Refused(f"{where}: option backward_layer differs from layer; wgfit "
                              "runs one layer in both directions")
        out["merge_mode"] = merge
        out["layer"] = {"class_name": inner_cls, "config": inner}
        out["backward_layer"] = {"class_name": inner_cls,
                                 "config": dict(inner, go_backwards=True)}
    return cls, out


def outputs_of(cls, cfg):
    """How many tensors one call of a layer gives (its output and, with return_state, states)."""
    if cls in RECURRENT and cfg.get("return_state"):
        return 1 + STATES[cls]
    if cls == "Bidirectional":
        # merge_mode None: each direction's output apart.
        ys = 2 if cfg.get("merge_mode") is None else 1
        if cfg["layer"]["config"].get("return_state"):
            return ys + 2 * STATES[cfg["layer"]["class_name"]]
        return ys
    return 1


def input_dims(where, entry):
    cfg = entry["config"]
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is None:
        raise Refused(f"{where}: no input shape")
    for key, ok in (("sparse", False), ("ragged", False), ("optional", False)):
        if cfg.get(key, ok) != ok:
            raise Refused(f"input '{cfg.get('name')}': option {key} = true is not supported")
    return list(shape[1:])


def sequential(config):
    """(inputs, layers, nodes, outputs) of a Keras `Sequential` config."""
    entries = config["layers"]
    if entries and entries[0]["class_name"] == "InputLayer":
        dims, name = input_dims("the Sequential", entries[0]), entries[0]["config"]["name"]
        entries = entries[1:]
    else:
        shape = config.get("build_input_shape") or (entries[0]["config"].get("batch_shape")
                                                    if entries else None)
        if shape is None:
            raise Refused("the Sequential model has no input shape (was it built?)")
        dims, name = list(shape[1:]), "input_layer"
    layers, nodes = [], []
    for k, entry in enumerate(entries):
        cls, cfg = layer_config(entry)
        if outputs_of(cls, cfg) != 1:
            raise Refused(f"layer '{cfg['name']}': return_state in a Sequential model")
        layers.append((cls, cfg))
        nodes.append({"layer": k, "inputs": [k], "outputs": [k + 1], "activation": None})
    return [(name, dims)], layers, nodes, [len(entries)]


def history(arg, where):
    if not (isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__"):
        raise Refused(f"{where}: argument {json.dumps(arg)[:80]} is not a tensor; wgfit "
                      "layers take tensors only")
    name, node, index = arg["config"]["keras_history"]
    return (name, node, index)


def flat(args):
    return [t for a in args for t in (flat(a) if isinstance(a, list) else [a])]


def functional(config):
    """(inputs, layers, nodes, outputs) of a Keras `Functional` config."""
    entries = {e["name"]: e for e in config["layers"]}
    triple = lambda t: [t] if isinstance(t[0], str) else t  # noqa: E731 (one or a list)
    inputs, value = [], {}
    for name, node, index in triple(config["input_layers"]):
        value[(name, node, index)] = len(inputs)
        inputs.append((name, input_dims(f"input '{name}'", entries[name])))
    order = [e for e in config["layers"] if e["class_name"] != "InputLayer" and not is_op(e)]
    for e in config["layers"]:
        if e["class_name"] == "InputLayer" and not any(n == e["name"] for n, _ in inputs):
            raise Refused(f"input '{e['name']}' is not one of the model's inputs")
    layers = [layer_config(e) for e in order]
    pending = []
    for k, e in enumerate(order):
        cls = e["class_name"]
        for n, call in enumerate(e["inbound_nodes"]):
            where = f"layer '{e['name']}' (call {n})"
            # `merge([a, b])`, `rnn(x)`, `rnn(x, [h, c])`: the tensors in order.
            ins = [history(a, where) for a in flat(call.get("args", []))]
            for key, arg in call.get("kwargs", {}).items():
                if key == "mask":
                    if arg is not None:  # the mask Keras derived; wgfit derives the same
                        keras_masks.check_mask(arg, where, entries, is_op, Refused)
                    continue
                if key == "training" and arg in (None, False):
                    continue
                if key == "initial_state" and (cls in RECURRENT or cls == "Bidirectional"):
                    ins += [history(a, where) for a in arg]
                    continue
                raise Refused(f"{where}: argument {key} = {json.dumps(arg)[:80]} is not "
                              "supported")
            pending.append((k, e["name"], n, ins))
    nodes = []
    while pending:
        ready = [p for p in pending if all(h in value for h in p[3])]
        if not ready:
            missing = next(h for h in pending[0][3] if h not in value)
            raise Refused(f"layer '{pending[0][1]}' reads '{missing[0]}', which is not a "
                          "layer wgfit can run (an operation of the graph, not a mask)")
        for p in ready:
            k, name, n, ins = p
            outs = list(range(len(value), len(value) + outputs_of(*layers[k])))
            for t, v in enumerate(outs):
                value[(name, n, t)] = v
            nodes.append({"layer": k, "inputs": [value[h] for h in ins], "outputs": outs,
                          "activation": None})
            pending.remove(p)
    outputs = []
    for name, node, index in triple(config["output_layers"]):
        if (name, node, index) not in value:
            raise Refused(f"output '{name}' is not computed by the graph")
        outputs.append(value[(name, node, index)])
    return inputs, layers, nodes, outputs


def architecture(config):
    """The wgfit model JSON (without compile settings) and the layers' (class, config) list."""
    cls = config.get("class_name")
    if cls == "Sequential":
        inputs, layers, nodes, outputs = sequential(config["config"])
    elif cls in ("Functional", "Model"):
        inputs, layers, nodes, outputs = functional(config["config"])
    else:
        raise Refused(f"model class {cls} is not supported (Sequential or Functional)")
    return {
        "class_name": "Sequential" if cls == "Sequential" else "Functional",
        "seed": 0,
        "inputs": [{"name": n, "named": True, "shape": d} for n, d in inputs],
        "layers": [{"class_name": c, "named": True, "config": cfg} for c, cfg in layers],
        "nodes": nodes,
        "outputs": outputs,
        "values": 1 + max(max(n["outputs"]) for n in nodes),
        "optimizer_step": None,
    }, layers


LOSSES = {"binary_crossentropy": "binary_crossentropy", "BinaryCrossentropy": "binary_crossentropy",
          "categorical_crossentropy": "categorical_crossentropy",
          "CategoricalCrossentropy": "categorical_crossentropy",
          "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
          "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
          "mean_squared_error": "mean_squared_error", "mse": "mean_squared_error",
          "MeanSquaredError": "mean_squared_error"}
# A loss object's options at the values wgfit computes.
LOSS_DEFAULTS = {"from_logits": False, "label_smoothing": 0.0, "axis": -1,
                 "reduction": "sum_over_batch_size", "ignore_class": None, "dtype": None}
OPTIMIZERS = {"Adam": ("beta_1", "beta_2", "epsilon"), "SGD": ("momentum", "nesterov"),
              "RMSprop": ("rho", "momentum", "epsilon")}
OPTIMIZER_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                      "clipvalue": None, "use_ema": False, "loss_scale_factor": None,
                      "gradient_accumulation_steps": None, "amsgrad": False, "centered": False,
                      "ema_overwrite_frequency": None}
# The accuracy `accuracy` resolves to for each loss (the metric wgfit computes).
ACCURACY = {"binary_crossentropy": "binary_accuracy",
            "categorical_crossentropy": "categorical_accuracy",
            "sparse_categorical_crossentropy": "sparse_categorical_accuracy"}
DEFAULT_OPTIMIZER = {"class_name": "Adam", "config": {"learning_rate": 0.001, "beta_1": 0.9,
                                                      "beta_2": 0.999, "epsilon": 1e-7}}


def optimizer(spec):
    """wgfit's optimizer JSON from Keras's serialized optimizer, or why not."""
    if isinstance(spec, str):
        spec = {"class_name": {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}.get(
            spec.lower(), spec), "config": {}}
    cls, cfg = spec.get("class_name"), dict(spec.get("config", {}))
    if cls not in OPTIMIZERS:
        raise Refused(f"optimizer {cls} (wgfit has Adam, SGD, RMSprop)")
    keep = {"learning_rate": 0.001 if cls != "SGD" else 0.01}
    keep.update({"Adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
                 "SGD": {"momentum": 0.0, "nesterov": False},
                 "RMSprop": {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7}}[cls])
    for key, v in cfg.items():
        if key in keep:
            if key == "learning_rate" and not isinstance(v, (int, float)):
                raise Refused(f"optimizer {cls}: a learning-rate schedule")
            keep[key] = v
        elif key in OPTIMIZER_DEFAULTS:
            if v != OPTIMIZER_DEFAULTS[key]:
                raise Refused(f"optimizer {cls}: option {key} = {json.dumps(v)}")
        elif key not in ("name", "ema_momentum"):  # ema_momentum: unused without use_ema
            raise Refused(f"optimizer {cls}: option {key} = {json.dumps(v)}")
    return {"class_name": cls, "config": keep}


def loss_name(spec):
    if isinstance(spec, dict):
        cls, cfg = spec.get("class_name"), spec.get("config", {})
        for key, v in cfg.items():
            if key != "name" and LOSS_DEFAULTS.get(key, "?") != v:
                raise Refused(f"loss {cls}: option {key} = {json.dumps(v)}")
        spec = cls
    if not isinstance(spec, str) or spec not in LOSSES:
        raise Refused(f"loss {json.dumps(spec)} (wgfit has binary, categorical and sparse "
                      "categorical crossentropy, mean squared error)")
    return LOSSES[spec]


def per_output(value, names, what):
    """A compile argument given once, as a list, or as a dict by output name: one per output."""
    if isinstance(value, dict) and not ("class_name" in value and "config" in value):
        return [value.get(n) for n in names]
    if isinstance(value, list) and len(names) > 1 and len(value) == len(names):
        return value
    if isinstance(value, list) and len(value) == 1 and what == "loss":
        return value * len(names)
    return [value] * len(names)  # one loss (or one metric list) for every output, as Keras


def compile_settings(compile_config, names):
    """wgfit's compile JSON from Keras's `compile_config`: each part wgfit cannot take is
    replaced by a default, said on stderr (predictions do not depend on it)."""
    c = compile_config or {}
    if not compile_config:
        note("the model was not compiled in Keras: writing Adam and mean squared error (change "
             "them with compile after load_model)")
    try:
        opt = optimizer(c["optimizer"]) if c.get("optimizer") else DEFAULT_OPTIMIZER
    except Refused as e:
        note(f"{e}: not supported, writing Adam's defaults instead")
        opt = DEFAULT_OPTIMIZER
    losses = per_output(c.get("loss"), names, "loss")
    weights = per_output(c.get("loss_weights"), names, "loss_weights")
    metrics = per_output(c.get("metrics"), names, "metrics")
    heads = []
    for name, loss, weight, metric in zip(names, losses, weights, metrics):
        try:
            loss = loss_name(loss) if loss is not None else "mean_squared_error"
        except Refused as e:
            note(f"output '{name}': {e} is not supported, writing mean_squared_error instead")
            loss = "mean_squared_error"
        kept = []
        for m in metric if isinstance(metric, list) else ([metric] if metric else []):
            if m in ("accuracy", "acc") or m == ACCURACY.get(loss):
                kept.append("accuracy")
            else:
                note(f"output '{name}': metric {json.dumps(m)} is not one wgfit has (accuracy), "
                     "left out")
        if kept and loss == "mean_squared_error":
            note(f"output '{name}': wgfit's accuracy needs a crossentropy loss, left out")
            kept = []
        heads.append({"name": name, "loss": loss,
                      "loss_weight": 1.0 if weight is None else float(weight),
                      "metrics": kept})
    return {"optimizer": opt, "outputs": heads}
