"""A Keras 3 text model (string Input -> TextVectorization -> ...) for tools/keras_to_wgfit.py:
the vectorizer becomes a wgfit TextModel's `text_vectorization.*` metadata (the keys
`TextVectorization::config_entries` writes: src/text/config.rs), and the config is rewritten
so the rest of the model takes the vectorizer's output (token ids, or multi-hot/count rows)
as its input. numpy-free, Keras-free.

Keras saves an adapted vocabulary in the zip's `assets/layers/<name>/vocabulary.txt` (one
token a line, the mask and OOV tokens first: index_lookup.py `save_assets`), or, when the
layer was given a vocabulary list, in its config. Options wgfit's TextVectorization lacks are
a `Refused` naming the option.
"""

import copy
import json

from keras_model_config import Refused

# Keras config keys and the values wgfit takes; anything else is refused.
STANDARDIZE = {"lower_and_strip_punctuation": "lower_and_strip_punctuation",
               "lower": "lower", "strip_punctuation": "strip_punctuation", None: "none"}
SPLIT = {"whitespace": "whitespace", "character": "character", None: "none"}
MODES = {"int", "multi_hot", "count"}
IGNORED = {"name", "trainable", "dtype", "vocabulary_size", "vocabulary", "idf_weights"}


def entries_of(entry, vocabulary):
    """{`text_vectorization.*`: str} of a TextVectorization config entry and its vocabulary
    (with the special tokens, as Keras's `get_vocabulary()` lists it)."""
    cfg = entry["config"]
    where = f"layer '{cfg.get('name')}' (TextVectorization)"

    def option(key, value, why):
        return Refused(f"{where}: option {key} = {json.dumps(value)} is not supported ({why})")

    out = {}
    for key, value in cfg.items():
        if key in IGNORED:
            continue
        if key == "max_tokens":
            if value is not None:
                out["max_tokens"] = str(value)
        elif key == "standardize":
            if not (isinstance(value, str) or value is None) or value not in STANDARDIZE:
                raise option(key, value, "wgfit has " + ", ".join(map(str, STANDARDIZE)))
            out["standardize"] = STANDARDIZE[value]
        elif key == "split":
            if not (isinstance(value, str) or value is None) or value not in SPLIT:
                raise option(key, value, "wgfit has " + ", ".join(map(str, SPLIT)))
            out["split"] = SPLIT[value]
        elif key == "ngrams":
            if isinstance(value, list) and value == list(range(1, len(value) + 1)):
                value = len(value)  # Keras's (1, ..., n) is its int n
            if value is not None and not isinstance(value, int):
                raise option(key, value, "wgfit takes an int n: all ngrams up to n")
            if value is not None:
                out["ngrams"] = str(value)
        elif key == "output_mode":
            if value not in MODES:
                raise option(key, value, "wgfit has " + ", ".join(sorted(MODES)))
            out["output_mode"] = value
        elif key == "output_sequence_length":
            if value is not None:
                out["output_sequence_length"] = str(value)
        elif key == "pad_to_max_tokens":
            out["pad_to_max_tokens"] = "true" if value else "false"
        elif key in ("sparse", "ragged"):
            if value:
                raise option(key, value, "wgfit's outputs are dense")
        elif key == "encoding":
            if value != "utf-8":
                raise option(key, value, "wgfit reads utf-8")
        else:
            raise Refused(f"{where}: option {key} = {json.dumps(value)} is not one wgfit "
                          "knows")
    if vocabulary is None:
        raise Refused(f"{where}: no vocabulary (not in the file's assets nor its config): "
                      "was the layer adapted before the model was saved?")
    # One token a line; backslashes and line breaks escaped (src/text/config.rs join_tokens).
    out["vocabulary"] = "\n".join(t.replace("\\", "\\\\").replace("\n", "\\n")
                                  for t in vocabulary)
    return {f"text_vectorization.{k}": v for k, v in out.items()}


def vocabulary_of(entry, zf):
    """The vocabulary Keras saved for a TextVectorization entry: its assets file, read as
    index_lookup.py `load_assets` reads it, or the list in its config."""
    name = entry["config"]["name"]
    # Keras names asset folders by the layer's class (saving_lib's `layers/<snake_case>`,
    # `_1`, ... for more of a class), not by its name; a TextModel has one vectorizer.
    path = "assets/layers/text_vectorization/vocabulary.txt"
    if path in zf.namelist():
        lines = zf.read(path).decode("utf-8").splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines
    given = entry["config"].get("vocabulary")
    if isinstance(given, list):
        return [str(t) for t in given]
    if given is not None:
        raise Refused(f"layer '{name}' (TextVectorization): option vocabulary = "
                      f"{json.dumps(given)} (a file path) is not supported: adapt the layer "
                      "or give the tokens as a list")
    return None


def output_dims(entry, vocabulary):
    """The vectorizer's output shape without the batch axis, the rest of the model's input."""
    cfg = entry["config"]
    if cfg.get("output_mode", "int") == "int":
        return [cfg.get("output_sequence_length")]
    width = len(vocabulary)
    if cfg.get("pad_to_max_tokens") and cfg.get("max_tokens"):
        width = cfg["max_tokens"]
    return [width]


def split_text(config, zf):
    """(config without the TextVectorization, its metadata entries), or (config, {}) for a
    model without one. The TextVectorization must be the first layer after the model's only
    input, a string Input; anywhere else it is refused, naming it."""
    inner = config["config"]
    layers = inner["layers"]
    found = [k for k, e in enumerate(layers) if e["class_name"] == "TextVectorization"]
    if not found:
        for k, e in enumerate(layers):
            if e["class_name"] == "InputLayer" and e["config"].get("dtype") == "string":
                raise Refused(f"input '{e['config'].get('name')}' takes strings, and no "
                              "TextVectorization follows it")
        return config, {}
    names = [layers[k]["config"].get("name") for k in found]
    if len(found) > 1:
        raise Refused(f"layers {names} (TextVectorization): a wgfit TextModel has one "
                      "vectorizer, in front of the model")
    k = found[0]
    entry = layers[k]
    name = entry["config"]["name"]
    where = f"layer '{name}' (TextVectorization)"
    out = copy.deepcopy(config)
    inner = out["config"]
    layers = inner["layers"]
    inputs = [e for e in layers if e["class_name"] == "InputLayer"]
    if config["class_name"] == "Sequential":
        first = 1 if layers and layers[0]["class_name"] == "InputLayer" else 0
        if k != first:
            raise Refused(f"{where} is layer {k} of the Sequential model: wgfit takes a "
                          "TextVectorization only as the first layer, after the string Input")
    else:
        ins = inner["input_layers"]
        ins = [ins] if isinstance(ins[0], str) else ins
        feeds = [h for n in entry.get("inbound_nodes", []) for a in n.get("args", [])
                 for h in ([a] if isinstance(a, dict) else a)
                 if isinstance(h, dict) and h.get("class_name") == "__keras_tensor__"]
        if (len(ins) != 1 or len(feeds) != 1
                or feeds[0]["config"]["keras_history"][0] != ins[0][0]
                or len(entry.get("inbound_nodes", [])) != 1):
            raise Refused(f"{where} is not called once on the model's only input: wgfit takes "
                          "a TextVectorization only as the first layer, after the string Input")
    vocabulary = vocabulary_of(entry, zf)
    meta = entries_of(entry, vocabulary)
    if not inputs:
        raise Refused(f"{where}: the model has no Input layer (was it built on an Input?)")
    source = inputs[0]["config"]
    source["batch_shape"] = [None, *output_dims(entry, vocabulary)]
    source["dtype"] = "int32" if entry["config"].get("output_mode", "int") == "int" \
        else "float32"
    source.pop("batch_input_shape", None)
    del layers[k]
    if config["class_name"] != "Sequential":
        # Whatever read the vectorizer's output reads the input now.
        def rewire(x):
            if isinstance(x, dict):
                if x.get("class_name") == "__keras_tensor__":
                    hist = x["config"]["keras_history"]
                    if hist[0] == name:
                        x["config"]["keras_history"] = [source["name"], 0, 0]
                for v in x.values():
                    rewire(v)
            elif isinstance(x, list):
                for v in x:
                    rewire(v)
        rewire(layers)
        outs = inner["output_layers"]
        if any(isinstance(o, list) and o and o[0] == name for o in outs) or outs[:1] == [name]:
            raise Refused(f"{where} is the model's output: nothing to convert after it")
    return out, meta
