"""A wgfit TextModel file (`TextModel::save`: `text_vectorization.*` metadata, src/text/
config.rs) for tools/wgfit_to_keras.py: the Keras model gets a string Input and a
`TextVectorization` (its config, and its vocabulary as the `assets/` file Keras's
index_lookup.py `save_assets` writes) in front of the rest, as Keras saves a text model.
numpy-free, Keras-free.
"""

import copy

PREFIX = "text_vectorization."
NAME = "text_vectorization"
# Keras saves a TextVectorization's vocabulary in its own asset folder and in its lookup
# layer's (the one `load_assets` reads); both are written, as Keras writes them.
ASSETS = [f"assets/layers/{NAME}/vocabulary.txt",
          f"assets/layers/{NAME}/_lookup_layer/vocabulary.txt"]
# wgfit's value -> Keras's.
NONE = {"none": None}


class Unsupported(Exception):
    pass


def unescape(line):
    """One vocabulary line of src/text/config.rs `join_tokens` back to its token."""
    out, chars = [], iter(line)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        nxt = next(chars, None)
        if nxt not in ("\\", "n"):
            raise Unsupported(f"{PREFIX}vocabulary: bad escape \\{nxt}")
        out.append("\\" if nxt == "\\" else "\n")
    return "".join(out)


def entries(meta):
    return {k[len(PREFIX):]: v for k, v in meta.items() if k.startswith(PREFIX)}


def layer(meta):
    """(Keras TextVectorization entry, vocabulary) of a file's metadata, or (None, None)."""
    e = entries(meta)
    if not e:
        return None, None
    if "vocabulary" not in e:
        raise Unsupported(f"{PREFIX}vocabulary: the vectorizer in the file has no vocabulary")
    vocabulary = [unescape(t) for t in e["vocabulary"].split("\n")]
    for t in vocabulary:
        # Keras reads the file with str.splitlines: \r, \x0c, \u2028, ... end lines too.
        if t.splitlines() not in ([], [t]):
            raise Unsupported(f"{PREFIX}vocabulary: token {t!r} holds a line break, which "
                              "Keras's vocabulary file (one token a line) cannot hold")
    number = lambda k: int(e[k]) if k in e else None  # noqa: E731
    cfg = {"name": NAME, "trainable": True, "dtype": "float32",
           "max_tokens": number("max_tokens"),
           "standardize": NONE.get(e.get("standardize"), e.get("standardize",
                                                              "lower_and_strip_punctuation")),
           "split": NONE.get(e.get("split"), e.get("split", "whitespace")),
           "ngrams": number("ngrams"),
           "output_mode": e.get("output_mode", "int"),
           "output_sequence_length": number("output_sequence_length"),
           "pad_to_max_tokens": e.get("pad_to_max_tokens", "false") == "true",
           "sparse": False, "ragged": False, "vocabulary": None, "idf_weights": None,
           "encoding": "utf-8", "vocabulary_size": len(vocabulary)}
    known = {"max_tokens", "standardize", "split", "ngrams", "output_mode",
             "output_sequence_length", "pad_to_max_tokens", "vocabulary"}
    for k in sorted(set(e) - known):
        raise Unsupported(f"{PREFIX}{k}: a vectorizer setting this tool does not know")
    entry = {"module": "keras.layers", "class_name": "TextVectorization", "config": cfg,
             "registered_name": None, "build_config": {"input_shape": [None, 1]}}
    return entry, vocabulary


def add(meta, config):
    """(config with a string Input and the TextVectorization in front, {zip path: bytes} of
    its assets), or (config, {}) for a file without a vectorizer."""
    entry, vocabulary = layer(meta)
    if entry is None:
        return config, {}
    out = copy.deepcopy(config)
    inner = out["config"]
    layers = inner["layers"]
    inputs = [l for l in layers if l["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise Unsupported(f"a text model takes one input (strings); this one has {len(inputs)}")
    source = inputs[0]
    source["config"]["batch_shape"] = [None, 1]
    source["config"]["dtype"] = "string"
    at = layers.index(source) + 1
    if out["class_name"] != "Sequential":
        name = source["config"]["name"]
        entry["name"] = NAME

        def rewire(x):
            if isinstance(x, dict):
                if x.get("class_name") == "__keras_tensor__":
                    if x["config"]["keras_history"][0] == name:
                        x["config"]["keras_history"] = [NAME, 0, 0]
                        x["config"]["dtype"] = "int64" if entry["config"]["output_mode"] \
                            == "int" else "float32"
                for v in x.values():
                    rewire(v)
            elif isinstance(x, list):
                for v in x:
                    rewire(v)
        rewire(layers)
        entry["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__", "config": {
            "shape": [None, 1], "dtype": "string", "keras_history": [name, 0, 0]}}],
            "kwargs": {}}]
    layers.insert(at, entry)
    data = "\n".join(vocabulary).encode("utf-8")
    return out, {path: data for path in ASSETS}


def weight_groups():
    """The TextVectorization's (variable-less) groups in model.weights.h5, as Keras writes."""
    return [(f"layers/{NAME}/vars", NAME), (f"layers/{NAME}/_lookup_layer/vars", "string_lookup")]
