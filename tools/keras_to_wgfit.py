#!/usr/bin/env python3
"""Convert a Keras 3 model to a wgfit model file, or its weights to a wgfit weights file.

    python tools/keras_to_wgfit.py model.keras model.wgfit          # whole model: load_model
    python tools/keras_to_wgfit.py model.keras model.safetensors
    python tools/keras_to_wgfit.py model.weights.h5 model.safetensors --config config.json

A `.wgfit` target is a whole model, as `Model::save` writes it (without optimizer state):
`wgfit::load_model` opens it. Sequential and functional models of the layers wgfit has
convert with every option wgfit implements; any other layer, option or call argument is an
error naming it (tools/keras_model_config.py says which keys count). The compile settings
come along where wgfit has them; others are replaced by defaults, said on stderr. The
optimizer's state is not converted: training goes on from fresh optimizer state. A text
model (string Input -> TextVectorization -> ...) becomes a `TextModel` file (`TextModel::load`):
the vectorizer's settings and vocabulary go into its metadata (tools/keras_text_config.py).

Needs numpy and h5py only (not Keras or TensorFlow). A `.keras` file carries its own
architecture; a `.weights.h5` file does not (its groups are named by layer class, not in model
order), so give it the model's config: the `config.json` inside the `.keras` zip, or what
`model.to_json()` writes.

wgfit names weights `layers.{i}.{kind}.{role}`: `i` counts the model's layers in order without
the `InputLayer` (a Flatten or Masking layer counts, though it has no weights), `kind` is
`dense`, `embedding`, `lstm`, `gru` or `simple_rnn`, and `role` is `kernel`, `bias`, `recurrent_kernel` or
`embeddings`. Keras and wgfit share the layouts (Dense `kernel [in, units]`, LSTM
`kernel [F, 4U]`, `recurrent_kernel [U, 4U]`, `bias [4U]`, gates i, f, c, o; GRU `bias [2, 3U]`
with reset_after), so tensors are
copied as they are, in float32. From a `.keras` file whose layers all convert as a whole model,
the weights-only file also holds Bidirectional (`bidirectional.forward.kernel`, ...) and
Normalization (`mean`, `variance`, `count`) weights.
"""

import argparse
import json
import re
import struct
import sys
import tempfile
import zipfile

import h5py
import numpy as np

import keras_model_config
import keras_text_config

KINDS = {"Dense": "dense", "LSTM": "lstm", "Embedding": "embedding", "Flatten": "flatten",
         "Masking": "masking"}
# Keras's variables in the order it stores them (`vars/0`, `vars/1`, ...).
ROLES = {"dense": ["kernel", "bias"], "lstm": ["kernel", "recurrent_kernel", "bias"],
         "embedding": ["embeddings"], "flatten": [], "masking": []}
KINDS.update({"GRU": "gru", "SimpleRNN": "simple_rnn"})
ROLES.update({"gru": ["kernel", "recurrent_kernel", "bias"],
              "simple_rnn": ["kernel", "recurrent_kernel", "bias"]})
# Recurrent layers keep their variables in their cell's group.
RECURRENT = {"lstm", "gru", "simple_rnn"}


def snake(name):
    """Keras's group name for a layer class: `LSTM` -> `lstm`, `InputLayer` -> `input_layer`."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def layer_configs(config):
    """The model's layers, in order, from a `.keras` config or `model.to_json()`."""
    if isinstance(config, str):
        config = json.loads(config)
    inner = config.get("config", config)
    if "layers" not in inner:
        sys.exit("the config has no layer list: give the model's config.json or model.to_json()")
    return inner["layers"]


def convert(h5, layers):
    """{wgfit name: array} from an open Keras 3 weights file and the model's layer list."""
    tensors = {}
    seen = {}
    index = 0
    groups = h5["layers"]
    for layer in layers:
        cls = layer["class_name"]
        group = snake(cls)
        count = seen.get(group, 0)
        seen[group] = count + 1
        name = group if count == 0 else f"{group}_{count}"
        if cls == "InputLayer":
            continue
        if cls not in KINDS:
            if name in groups and has_vars(groups[name]):
                sys.exit(f"layer {layer['config'].get('name', name)} ({cls}) has weights, "
                         f"and wgfit has no {cls} layer (it has {', '.join(KINDS)})")
            continue  # a weightless op Keras records in functional graphs (NotEqual, Any, ...)
        kind = KINDS[cls]
        roles = list(ROLES[kind])
        if kind == "dense" and not layer["config"].get("use_bias", True):
            roles = ["kernel"]
        if kind in RECURRENT and not layer["config"].get("use_bias", True):
            roles = ["kernel", "recurrent_kernel"]
        if roles:
            vars_group = groups[name]["cell"]["vars"] if kind in RECURRENT else groups[name]["vars"]
            if len(vars_group) != len(roles):
                sys.exit(f"{name}: {len(vars_group)} variables in the file, wgfit's {kind} has "
                         f"{len(roles)} ({', '.join(roles)})")
            for k, role in enumerate(roles):
                tensors[f"layers.{index}.{kind}.{role}"] = np.asarray(vars_group[str(k)],
                                                                      dtype=np.float32)
        index += 1
    return tensors


def has_vars(group):
    found = []
    group.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
    return bool(found)


def save_safetensors(path, tensors, metadata):
    """The safetensors format: an 8-byte header length, a JSON header, then the raw data."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def model_tensors(h5, config, layers):
    """{wgfit name: array} for a whole model: `layers` is the converted (class, config) list
    in wgfit's order, which is Keras's `model.layers` order (the h5 groups count in it)."""
    entries = config["config"]["layers"]
    seen, groups = {}, {}
    for entry in entries:
        if keras_model_config.is_op(entry):
            continue
        group = snake(entry["class_name"])
        count = seen.get(group, 0)
        seen[group] = count + 1
        if entry["class_name"] != "InputLayer":
            groups[len(groups)] = group if count == 0 else f"{group}_{count}"
    root = h5["layers"]
    tensors = {}

    def take(i, kind, vars_group, roles, prefix=""):
        if len(vars_group) != len(roles):
            raise keras_model_config.Refused(
                f"layer {i} ({kind}): {len(vars_group)} variables in the file, wgfit's has "
                f"{len(roles)} ({', '.join(roles)})")
        for k, role in enumerate(roles):
            tensors[f"layers.{i}.{kind}.{prefix}{role}"] = np.asarray(vars_group[str(k)],
                                                                      dtype=np.float32)

    for i, (cls, cfg) in enumerate(layers):
        kind = keras_model_config.KINDS[cls]
        group = root[groups[i]]
        if cls == "Dense":
            take(i, kind, group["vars"], ["kernel", "bias"] if cfg["use_bias"] else ["kernel"])
        elif cls == "Embedding":
            take(i, kind, group["vars"], ["embeddings"])
        elif cls == "Normalization":
            take(i, kind, group["vars"], ["mean", "variance", "count"])
        elif cls in keras_model_config.RECURRENT:
            take(i, kind, group["cell"]["vars"], ["kernel", "recurrent_kernel", "bias"])
        elif cls == "Bidirectional":
            for direction in ("forward", "backward"):
                take(i, kind, group[f"{direction}_layer"]["cell"]["vars"],
                     ["kernel", "recurrent_kernel", "bias"], f"{direction}.")
        elif has_vars(group):
            raise keras_model_config.Refused(f"layer {i} ({cls}) has weights wgfit does not")
    return tensors


def convert_model(source):
    """(tensors, metadata) of the wgfit model file for a `.keras` file."""
    with zipfile.ZipFile(source) as z:
        config = json.loads(z.read("config.json").decode())
        # A TextVectorization after the string Input: a TextModel file (its metadata).
        config, text = keras_text_config.split_text(config, z)
        with tempfile.TemporaryDirectory() as tmp:
            with h5py.File(z.extract("model.weights.h5", tmp), "r") as h5:
                model, layers = keras_model_config.architecture(config)
                try:
                    tensors = model_tensors(h5, config, layers)
                except KeyError as e:
                    raise keras_model_config.Refused(
                        f"the weights file has no group {e}: was the model built (an Input, "
                        "or called on data) before it was saved?") from None
                # Keras keeps 2 scalars (iterations, learning rate) before any training.
                if "optimizer" in h5 and len(h5["optimizer"]["vars"]) > 2:
                    keras_model_config.note("the optimizer's state is not converted: training "
                                            "goes on from fresh optimizer state")
    names = []  # wgfit's output names (src/model/graph.rs): the layer's, suffixed when repeated
    for base in (model["layers"][n["layer"]]["config"]["name"]
                 for v in model["outputs"] for n in model["nodes"] if v in n["outputs"]):
        name, k = base, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    model["compile"] = keras_model_config.compile_settings(config.get("compile_config"), names)
    meta = {"format": "wgfit-model", "format_version": str(keras_model_config.FORMAT_VERSION),
            "model": json.dumps(model, separators=(",", ":"))}
    meta.update(text)
    return tensors, meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", help="a Keras 3 .keras or .weights.h5 file")
    p.add_argument("target", help="the wgfit file to write: .wgfit (whole model) or "
                   ".safetensors (weights)")
    p.add_argument("--config", help="the model's config (for a .weights.h5 file)")
    args = p.parse_args(argv)
    if args.target.endswith(".wgfit"):
        if not args.source.endswith(".keras"):
            sys.exit(f"{args.source}: a whole model (.wgfit) converts from a .keras file")
        try:
            tensors, meta = convert_model(args.source)
        except keras_model_config.Refused as e:
            sys.exit(f"{args.source}: cannot convert: {e}")
        save_safetensors(args.target, tensors, meta)
        for name in sorted(tensors):
            print(f"{name} {list(tensors[name].shape)}")
        return
    if args.source.endswith(".keras"):
        with zipfile.ZipFile(args.source) as z:
            config = json.loads(z.read("config.json").decode())
            with tempfile.TemporaryDirectory() as tmp:
                with h5py.File(z.extract("model.weights.h5", tmp), "r") as h5:
                    try:  # every layer a whole model converts (Bidirectional, Normalization)
                        _, converted = keras_model_config.architecture(config)
                        tensors = model_tensors(h5, config, converted)
                    except (keras_model_config.Refused, KeyError):
                        # Options only a model built in Rust can match: the weights as they are.
                        tensors = convert(h5, layer_configs(config))
    elif args.source.endswith(".h5"):
        if not args.config:
            sys.exit("a .weights.h5 file does not record the layer order: pass --config "
                     "config.json (from the .keras zip, or model.to_json())")
        with open(args.config) as f:
            layers = layer_configs(f.read())
        with h5py.File(args.source, "r") as h5:
            tensors = convert(h5, layers)
    else:
        sys.exit(f"{args.source}: expected a .keras or .weights.h5 file")
    save_safetensors(args.target, tensors, {"format": "wgfit", "source": args.source})
    for name in sorted(tensors):
        print(f"{name} {list(tensors[name].shape)}")


if __name__ == "__main__":
    main()
