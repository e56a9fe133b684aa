#!/usr/bin/env python3
"""Convert a whole wgfit model (`Model::save`, a `.wgfit` file) to a Keras 3 `.keras` file.

    python tools/wgfit_to_keras.py model.wgfit model.keras

Needs numpy and h5py only (not Keras or TensorFlow). `keras.saving.load_model("model.keras")`
then gives the same model: its layers, names, weights and compile settings (optimizer and its
hyper-parameters, losses, loss weights, metrics). The optimizer's state (moments, step) is not
converted: Keras starts it afresh, and the tool says so on stderr.

A `.keras` file is a zip of `metadata.json`, `config.json` (the model as Keras serializes it:
`Sequential` or `Functional`, each layer's `{class_name, config}`, a functional layer's calls
as `inbound_nodes`) and `model.weights.h5`, where each layer's variables sit under
`layers/{snake_case(class)}{_k}/vars/{j}` (`k` counts earlier layers of the class in Keras's
`model.layers` order, which is wgfit's; a recurrent layer's under `cell/vars`, a
Bidirectional's under `forward_layer/cell/vars` and `backward_layer/cell/vars`). wgfit's
layers and weights share Keras's layouts, so tensors are copied as they are.

Masks are not written into the graph: Keras recomputes them when it rebuilds the model, as
wgfit does. A layer or option Keras cannot express from wgfit's file (a layer of your own,
registered with `wgfit::register_layer`) is an error naming it, as is a file that is not a
whole wgfit model (weights only, truncated). A `TextModel` file (`TextModel::save`) gets a
string Input and a TextVectorization in front, its vocabulary in the zip's `assets/`
(tools/wgfit_text_to_keras.py).
"""

import argparse
import datetime
import json
import os
import re
import struct
import sys
import tempfile
import zipfile

import h5py
import numpy as np

import wgfit_text_to_keras

# The Keras version whose file layout this writes (checked with it, see
# tools/check_wgfit_to_keras.py).
KERAS_VERSION = "3.15.1"
FORMATS = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U64": "<u8", "I32": "<i4", "U32": "<u4"}
RECURRENT = ("LSTM", "GRU", "SimpleRNN")
MERGES = ("Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
# wgfit's weight roles -> Keras's variable index, per class.
VARS = {"Dense": ["kernel", "bias"], "Embedding": ["embeddings"],
        "Normalization": ["mean", "variance", "count"]}
VARS.update({c: ["kernel", "recurrent_kernel", "bias"] for c in RECURRENT})


class Unsupported(Exception):
    pass


def read_safetensors(path):
    """(metadata, {name: array}) of a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise Unsupported(f"{path}: not a safetensors file (shorter than its header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise Unsupported(f"{path}: not a safetensors file (header of {n} bytes)")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    body = data[8 + n:]
    tensors = {}
    for name, t in header.items():
        if t["dtype"] not in FORMATS:
            raise Unsupported(f"{path}: tensor {name} has dtype {t['dtype']}")
        a, b = t["data_offsets"]
        if not 0 <= a <= b <= len(body):
            raise Unsupported(f"{path}: tensor {name} lies past the end of the file (truncated?)")
        tensors[name] = np.frombuffer(body[a:b], dtype=FORMATS[t["dtype"]]).reshape(t["shape"])
    return meta, tensors


def snake(name):
    """Keras's `naming.to_snake_case`: `SimpleRNN` -> `simple_rnn`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def f32(x):
    """wgfit's float32 setting as the short decimal Keras would write (0.2, not 0.2000000029)."""
    return float(str(np.float32(x)))


def rnn_config(c, name):
    """A Keras LSTM / GRU / SimpleRNN config from wgfit's."""
    out = {"name": name, "units": c["units"], "activation": c.get("activation", "tanh"),
           "use_bias": c.get("use_bias", True),
           "return_sequences": c["return_sequences"], "return_state": c["return_state"],
           "go_backwards": c.get("go_backwards", False), "stateful": False,
           "dropout": f32(c["dropout"]), "recurrent_dropout": f32(c["recurrent_dropout"]),
           "seed": c.get("seed")}
    if "recurrent_activation" in c:
        out["recurrent_activation"] = c["recurrent_activation"]
    if "reset_after" in c:
        out["reset_after"] = c["reset_after"]
    return out


def keras_layer(cls, c, name):
    """The Keras `{class_name, config}` of a wgfit layer's config."""
    if cls == "Dense":
        kc = {"units": c["units"], "activation": c["activation"], "use_bias": c["use_bias"]}
    elif cls == "Embedding":
        kc = {"input_dim": c["input_dim"], "output_dim": c["output_dim"],
              "mask_zero": c["mask_zero"]}
    elif cls == "Masking":
        kc = {"mask_value": f32(c["mask_value"])}
    elif cls == "Flatten":
        kc = {}
    elif cls in ("Dropout", "SpatialDropout1D"):
        kc = {"rate": f32(c["rate"]), "seed": c.get("seed")}
    elif cls == "Normalization":
        kc = {"axis": c["axis"], "invert": c["invert"], "mean": None, "variance": None}
    elif cls in RECURRENT:
        kc = rnn_config(c, name)
    elif cls == "Bidirectional":
        inner = c["layer"]
        if inner["class_name"] not in RECURRENT:
            raise Unsupported(f"Bidirectional over {inner['class_name']}")
        kc = {"merge_mode": c["merge_mode"],
              "layer": wrapped(inner["class_name"], rnn_config(inner["config"], f"forward_{name}"))}
        back = c.get("backward_layer")
        if back:
            kc["backward_layer"] = wrapped(back["class_name"],
                                           rnn_config(back["config"], f"backward_{name}"))
            kc["backward_layer"]["config"]["go_backwards"] = True
    elif cls == "Concatenate":
        kc = {"axis": c.get("axis", -1)}
    elif cls in MERGES:
        kc = {}
    else:
        raise Unsupported(f"class {cls} is not a Keras layer wgfit_to_keras knows (only "
                          "wgfit's built-in layers convert)")
    kc.update({"name": name, "dtype": "float32"})
    if cls != "SpatialDropout1D":  # Keras's SpatialDropout1D takes no `trainable`
        kc["trainable"] = True
    return wrapped(cls, kc)


def wrapped(cls, config):
    return {"module": "keras.layers", "class_name": cls, "config": config,
            "registered_name": None}


def out_shapes(cls, c, ins):
    """The output shapes (lists, None for unknown) of one call of a layer on `ins`."""
    x = ins[0]
    if cls == "Dense":
        return [x[:-1] + [c["units"]]]
    if cls == "Embedding":
        return [x + [c["output_dim"]]]
    if cls == "Flatten":
        rest = x[1:]
        n = None if None in rest else int(np.prod(rest, dtype=np.int64))
        return [[x[0], n]]
    if cls in RECURRENT or cls == "Bidirectional":
        inner = c["layer"]["config"] if cls == "Bidirectional" else c
        u = inner["units"]
        y = [x[0], x[1], u] if inner["return_sequences"] else [x[0], u]
        states = []
        if inner["return_state"]:
            states = [[x[0], u]] * (2 if (c["layer"]["class_name"] if cls == "Bidirectional"
                                          else cls) == "LSTM" else 1)
        if cls == "Bidirectional":
            states = states * 2
            if c["merge_mode"] is None:
                return [y, y] + states
            if c["merge_mode"] == "concat":
                y = y[:-1] + [2 * u]
        return [y] + states
    if cls == "Concatenate":
        axis = c.get("axis", -1)
        y = list(x)
        dims = [s[axis] for s in ins]
        y[axis] = None if None in dims else sum(dims)
        return [y]
    return [list(x)]


def tensor_ref(shape, history):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": history}}


def convert_config(model):
    """(Keras config.json, [(class, name)] in wgfit's layer order)."""
    layers = model["layers"]
    names = [(l["class_name"], l["config"]["name"]) for l in layers]
    kl = []
    for i, l in enumerate(layers):
        try:
            kl.append(keras_layer(l["class_name"], l["config"], l["config"]["name"]))
        except (Unsupported, KeyError) as e:
            what = f"its config has no {e}" if isinstance(e, KeyError) else str(e)
            raise Unsupported(f"layer {i} ('{l['config'].get('name')}', {l['class_name']}): "
                              f"{what}") from None
    inputs = model["inputs"]
    input_layers = [wrapped("InputLayer", {"batch_shape": [None] + list(i["shape"]),
                                           "dtype": "float32", "sparse": False,
                                           "ragged": False, "name": i["name"],
                                           "optional": False})
                    for i in inputs]
    for node in model["nodes"]:
        if node.get("activation") is not None:
            i = node["layer"]
            raise Unsupported(f"layer {i} ('{names[i][1]}'): the model applies "
                              f"{node['activation']} after it apart from its config; Keras "
                              "has no place for that")
    if model["class_name"] == "Sequential":
        if len(inputs) != 1:
            raise Unsupported("a Sequential model with several inputs")
        config = {"name": "sequential", "trainable": True, "dtype": "float32",
                  "layers": input_layers + kl}
        return {"module": "keras", "class_name": "Sequential", "config": config,
                "registered_name": None}, names
    history = {v: [inp["name"], 0, 0] for v, inp in enumerate(inputs)}
    shapes = {v: [None] + list(inp["shape"]) for v, inp in enumerate(inputs)}
    calls = [0] * len(layers)
    inbound = [[] for _ in layers]
    for node in model["nodes"]:
        i = node["layer"]
        cls, name = names[i]
        refs = [tensor_ref(shapes[v], history[v]) for v in node["inputs"]]
        if cls in MERGES:
            args, kwargs = [refs], {}
        elif len(refs) > 1 and (cls in RECURRENT or cls == "Bidirectional"):
            args, kwargs = [refs[0]], {"initial_state": refs[1:]}
        elif len(refs) == 1:
            args, kwargs = refs, {}
        else:
            raise Unsupported(f"layer {i} ('{name}', {cls}) called on {len(refs)} inputs")
        inbound[i].append({"args": args, "kwargs": kwargs})
        outs = out_shapes(cls, layers[i]["config"], [shapes[v] for v in node["inputs"]])
        if len(outs) != len(node["outputs"]):
            raise Unsupported(f"layer {i} ('{name}', {cls}) gives {len(node['outputs'])} "
                              f"outputs in the file, {len(outs)} in Keras")
        for k, v in enumerate(node["outputs"]):
            history[v] = [name, calls[i], k]
            shapes[v] = outs[k]
        calls[i] += 1
    for layer, nodes in zip(kl, inbound):
        layer["name"] = layer["config"]["name"]
        layer["inbound_nodes"] = nodes
    for layer in input_layers:
        layer["name"] = layer["config"]["name"]
        layer["inbound_nodes"] = []
    # One input or output is written bare, as Keras writes it (predict then gives an array).
    one = lambda refs: refs[0] if len(refs) == 1 else refs  # noqa: E731
    config = {"name": "functional", "trainable": True,
              "layers": input_layers + kl,
              "input_layers": one([history[v] for v in range(len(inputs))]),
              "output_layers": one([history[v] for v in model["outputs"]])}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": None}, names


KERAS_OPTIMIZERS = {"Adam": ("adam", {"amsgrad": False}),
                    "SGD": ("sgd", {}),
                    "RMSprop": ("rmsprop", {"centered": False})}


def compile_config(model):
    """Keras's `compile_config` from wgfit's compile settings."""
    comp = model["compile"]
    opt = comp["optimizer"]
    if opt["class_name"] not in KERAS_OPTIMIZERS:
        raise Unsupported(f"optimizer {opt['class_name']}")
    name, extra = KERAS_OPTIMIZERS[opt["class_name"]]
    optimizer = {"module": "keras.optimizers", "class_name": opt["class_name"],
                 "config": {"name": name, **extra}, "registered_name": None}
    for key, value in opt["config"].items():
        # beta_1, beta_2 and rho are f64 in wgfit, as in Keras; the rest f32.
        exact = isinstance(value, bool) or key in ("beta_1", "beta_2", "rho")
        optimizer["config"][key] = value if exact else f32(value)
    heads = comp["outputs"]
    losses = [h["loss"] for h in heads]
    weights = [f32(h["loss_weight"]) for h in heads]
    metrics = [h["metrics"] for h in heads]
    if len(heads) == 1:
        loss, metrics = losses[0], (metrics[0] or None)
        weights = None if weights[0] == 1.0 else weights
    else:
        loss = losses
        weights = None if all(w == 1.0 for w in weights) else weights
        metrics = metrics if any(metrics) else None
    return {"optimizer": optimizer, "loss": loss, "loss_weights": weights, "metrics": metrics,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def layer_plan(i, cls, config, names):
    """[(h5 subpath, wgfit tensor name)] of wgfit layer `i`, in Keras's variable order."""
    if cls == "Bidirectional":
        inner = config["layer"]["class_name"]
        plan = {f"{d}_layer/cell/vars": [f"{d}.{r}" for r in VARS[inner]]
                for d in ("forward", "backward")}
    elif cls in RECURRENT:
        plan = {"cell/vars": list(VARS[cls])}
    else:
        plan = {"vars": list(VARS.get(cls, []))}
    prefix = f"layers.{i}."
    mine = {n[len(prefix):].split(".", 1)[1]: n for n in names if n.startswith(prefix)}
    out = []
    for sub, roles in plan.items():
        if cls == "Dense" and not config["use_bias"]:
            roles = roles[:1]
        for j, role in enumerate(roles):
            if role not in mine:
                raise Unsupported(f"layer {i} ('{config['name']}', {cls}): the file has no "
                                  f"tensor {prefix}*.{role}")
            out.append((f"{sub}/{j}", mine.pop(role)))
    if mine:
        raise Unsupported(f"layer {i} ('{config['name']}', {cls}): tensor "
                          f"{sorted(mine.values())[0]} has no place in Keras's layer")
    return out


def weight_plan(model, names, tensor_names):
    """[(h5 path, wgfit tensor name)] for model.weights.h5, and every layer's group."""
    seen, plan, groups = {}, [], []
    for i, (cls, name) in enumerate(names):
        group = snake(cls)
        k = seen.get(group, 0)
        seen[group] = k + 1
        path = "layers/" + (group if k == 0 else f"{group}_{k}")
        groups.append((path, name))
        config = model["layers"][i]["config"]
        plan += [(f"{path}/{sub}", t) for sub, t in layer_plan(i, cls, config, tensor_names)]
    return plan, groups


def write_weights(path, model, names, tensors, text=False):
    """model.weights.h5 in Keras 3's layout (`text`: with a TextVectorization's groups)."""
    plan, groups = weight_plan(model, names, list(tensors))
    if text:
        groups = groups + wgfit_text_to_keras.weight_groups()
    with h5py.File(path, "w") as h5:
        for group, name in groups:
            h5.create_group(f"{group}/vars").attrs["name"] = name
        for where, tensor in plan:
            h5.create_dataset(where, data=np.asarray(tensors[tensor], dtype="<f4"))
        h5.create_group("vars").attrs["name"] = model["class_name"].lower()


def convert(source, target):
    meta, tensors = read_safetensors(source)
    if meta.get("format") != "wgfit-model":
        raise Unsupported(f"{source}: not a wgfit model file (Model::save); its format is "
                          f"{meta.get('format')!r}")
    if int(meta.get("format_version", "0")) > 1:
        raise Unsupported(f"{source}: model format version {meta['format_version']} is newer "
                          "than this tool reads (1)")
    model = json.loads(meta["model"])
    try:
        config, names = convert_config(model)
        config["compile_config"] = compile_config(model)
        # A TextModel file: a string Input and a TextVectorization in front.
        config, assets = wgfit_text_to_keras.add(meta, config)
        weights = {n: a for n, a in tensors.items() if n.startswith("layers.")}
        weight_plan(model, names, list(weights))
    except (Unsupported, wgfit_text_to_keras.Unsupported) as e:
        raise Unsupported(f"{source}: {e}") from None
    if len(weights) < len(tensors) or model.get("optimizer_step") is not None:
        print(f"{source}: the optimizer state (step {model.get('optimizer_step')}) is not "
              "converted: Keras starts the optimizer afresh", file=sys.stderr)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise Unsupported(f"{target}: the folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(suffix=".keras", dir=folder)
    except OSError as e:
        raise Unsupported(f"{target}: cannot write in {folder} ({e.strerror})") from None
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory() as work:
            h5 = os.path.join(work, "model.weights.h5")
            write_weights(h5, model, names, weights, text=bool(assets))
            saved = datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")  # Keras's format
            metadata = {"keras_version": KERAS_VERSION, "date_saved": saved,
                        "converted_from": os.path.basename(source)}
            with zipfile.ZipFile(tmp, "w") as z:
                z.writestr("metadata.json", json.dumps(metadata))
                z.writestr("config.json", json.dumps(config))
                z.write(h5, "model.weights.h5")
                for where, data in assets.items():
                    z.writestr(where, data)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", help="a wgfit model file (Model::save)")
    p.add_argument("target", help="the Keras 3 .keras file to write")
    args = p.parse_args(argv)
    try:
        names = convert(args.source, args.target)
    except Unsupported as e:
        sys.exit(f"wgfit_to_keras: {e}")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        sys.exit(f"wgfit_to_keras: {args.source}: not a readable wgfit model file "
                 f"({type(e).__name__}: {e})")
    for cls, name in names:
        print(f"{name} ({cls})")


if __name__ == "__main__":
    main()
