#!/usr/bin/env python3
"""Check tools/wgfit_to_keras.py on the reference models tests/wgfit_to_keras.rs writes.

    WGFIT_TO_KERAS_DIR=/tmp/w2k cargo test --release --test wgfit_to_keras
    python tools/check_wgfit_to_keras.py /tmp/w2k --golden tests/golden/wgfit_to_keras.json
    python tools/check_wgfit_to_keras.py /tmp/w2k --keras --golden tests/golden/wgfit_to_keras.json

Each `{name}.wgfit` in the directory has `{name}.keras` (the converter's output) and
`{name}.json` (an input batch and wgfit's predictions) beside it.

Without `--keras` (numpy + h5py; what CI runs): each zip holds Keras's three files;
config.json names every wgfit layer with its class, and a functional model's calls refer only
to layers and inputs it has; model.weights.h5 holds exactly the datasets, at the paths and
shapes, that Keras itself wrote when it re-saved the converted model (recorded in the golden
file), each equal to the wgfit tensor recorded for it.

With `--keras` (TensorFlow + Keras, by hand): `keras.saving.load_model` opens each file,
predicts the input batch and must match wgfit's predictions to 1e-5, with wgfit's compile
settings (optimizer class and hyper-parameters, losses, loss weights, metrics); then it is saved
again by Keras, and the golden file is rewritten with Keras's own weight layout, the max
errors, and the TensorFlow and Keras versions.
"""

import argparse
import json
import os
import sys
import tempfile
import zipfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wgfit_to_keras as w2k  # noqa: E402

TOLERANCE = 1e-5


def datasets(h5):
    """{path: shape} of every dataset in an open h5 file, the optimizer's left out."""
    found = {}
    h5.visititems(lambda n, o: found.__setitem__(n, list(o.shape))
                  if isinstance(o, h5py.Dataset) and not n.startswith("optimizer") else None)
    return found


def read_wgfit(path):
    meta, tensors = w2k.read_safetensors(path)
    return json.loads(meta["model"]), tensors


def check_structure(name, wgfit, keras_path, golden):
    """Problems with `keras_path` as the conversion of `wgfit` (an empty list when none)."""
    model, tensors = read_wgfit(wgfit)
    problems = []
    with zipfile.ZipFile(keras_path) as z:
        files = sorted(z.namelist())
        if files != ["config.json", "metadata.json", "model.weights.h5"]:
            problems.append(f"zip holds {files}")
        config = json.loads(z.read("config.json"))
        json.loads(z.read("metadata.json"))
        with tempfile.TemporaryDirectory() as tmp:
            with h5py.File(z.extract("model.weights.h5", tmp), "r") as h5:
                found = datasets(h5)
                values = {p: np.asarray(h5[p]) for p in found}
    if config["class_name"] != model["class_name"]:
        problems.append(f"a {config['class_name']}, wgfit's is a {model['class_name']}")
    layers = config["config"]["layers"]
    by_name = {l["config"]["name"]: l["class_name"] for l in layers}
    for i, l in enumerate(model["layers"]):
        got = by_name.get(l["config"]["name"])
        if got != l["class_name"]:
            problems.append(f"layer {i} ({l['config']['name']}, {l['class_name']}): config has "
                            f"{got}")
    kept = [l for l in layers if l["class_name"] != "InputLayer"]
    if len(kept) != len(model["layers"]):
        problems.append(f"{len(kept)} layers besides inputs, wgfit has {len(model['layers'])}")
    if config["class_name"] == "Functional":
        c = config["config"]
        refs = []

        def walk(v):
            if isinstance(v, dict):
                if v.get("class_name") == "__keras_tensor__":
                    refs.append(v["config"]["keras_history"])
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk([l.get("inbound_nodes") for l in layers])
        # One input or output is a bare [name, node, index], several a list of them.
        triples = lambda t: [t] if isinstance(t[0], str) else t  # noqa: E731
        c = dict(c, input_layers=triples(c["input_layers"]),
                 output_layers=triples(c["output_layers"]))
        refs += c["input_layers"] + c["output_layers"]
        calls = {l["config"]["name"]: max(1, len(l["inbound_nodes"])) for l in layers}
        for r in refs:
            if r[0] not in calls or r[1] >= calls[r[0]]:
                problems.append(f"a call reads {r}, which the config does not have")
        if len(c["input_layers"]) != len(model["inputs"]):
            problems.append(f"{len(c['input_layers'])} inputs, wgfit has {len(model['inputs'])}")
        if len(c["output_layers"]) != len(model["outputs"]):
            problems.append(f"{len(c['output_layers'])} outputs, wgfit has "
                            f"{len(model['outputs'])}")
    if "compile_config" not in config:
        problems.append("no compile_config")
    if golden is None:
        return problems + ["no golden layout recorded for it (run with --keras)"]
    if not golden["ok"]:
        problems.append(f"Keras did not predict what wgfit does ({golden['max_abs_error']})")
    want = golden["weights"]
    for path in sorted(set(want) | set(found)):
        if path not in found:
            problems.append(f"h5 lacks {path} (Keras has it, holding {want[path]['tensor']})")
        elif path not in want:
            problems.append(f"h5 has {path}, which Keras does not")
        elif found[path] != want[path]["shape"]:
            problems.append(f"h5 {path} is shaped {found[path]}, Keras's {want[path]['shape']}")
        elif not np.array_equal(values[path], tensors[want[path]["tensor"]]):
            problems.append(f"h5 {path} is not wgfit's {want[path]['tensor']}")
    return problems


def keras_check(name, directory, keras_path):
    """Loads the converted file in Keras, compares predictions; returns the golden entry."""
    import keras
    with open(os.path.join(directory, f"{name}.json")) as f:
        ref = json.load(f)
    arr = lambda a: np.asarray(a["data"], dtype=np.float32).reshape(a["shape"])  # noqa: E731
    xs = [arr(a) for a in ref["inputs"]]
    want = [arr(a) for a in ref["predictions"]]
    model = keras.saving.load_model(keras_path)
    got = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    got = got if isinstance(got, (list, tuple)) else [got]
    errors = [float(np.max(np.abs(np.asarray(g) - w))) for g, w in zip(got, want)]
    shapes_ok = [list(np.shape(g)) == list(w.shape) for g, w in zip(got, want)]
    with tempfile.TemporaryDirectory() as tmp:
        again = os.path.join(tmp, "again.keras")
        model.save(again)
        with zipfile.ZipFile(again) as z, h5py.File(z.extract("model.weights.h5", tmp)) as h5:
            layout = datasets(h5)
    wmodel, tensors = read_wgfit(os.path.join(directory, f"{name}.wgfit"))
    names = [(l["class_name"], l["config"]["name"]) for l in wmodel["layers"]]
    plan, _ = w2k.weight_plan(wmodel, names, [t for t in tensors if t.startswith("layers.")])
    plan = dict(plan)
    weights = {p: {"shape": s, "tensor": plan.get(p)} for p, s in sorted(layout.items())}
    compiled = compile_matches(model, wmodel)
    ok = (len(got) == len(want) and all(shapes_ok) and max(errors) <= TOLERANCE
          and all(v["tensor"] for v in weights.values()) and not compiled)
    return ok, {"max_abs_error": errors, "ok": ok, "weights": weights,
                "compile_problems": compiled}


def compile_matches(model, wmodel):
    """What differs between the Keras model's compile settings and wgfit's (a list)."""
    want = wmodel["compile"]
    problems = []
    opt = model.optimizer
    if type(opt).__name__ != want["optimizer"]["class_name"]:
        problems.append(f"optimizer {type(opt).__name__}")
    for key, value in want["optimizer"]["config"].items():
        have = getattr(opt, key)
        have = bool(have) if isinstance(value, bool) else float(np.asarray(have))
        if not np.isclose(have, value, rtol=1e-6, atol=0):
            problems.append(f"optimizer {key} {have}, wgfit's {value}")
    heads = want["outputs"]
    losses = [h["loss"] for h in heads]
    keras_losses = model.loss if isinstance(model.loss, (list, tuple)) else [model.loss]
    if list(keras_losses) != losses:
        problems.append(f"losses {list(keras_losses)}, wgfit's {losses}")
    # What compile() was called with, as Keras keeps it for saving.
    called = model._compile_config.config
    weights = [h["loss_weight"] for h in heads]
    kw = called.get("loss_weights") or [1.0] * len(heads)
    if not np.allclose(kw, weights):
        problems.append(f"loss weights {kw}, wgfit's {weights}")
    metrics = [h["metrics"] for h in heads]
    km = called.get("metrics") or []
    km = [km] if len(heads) == 1 else km
    km = [list(m or []) for m in km] or [[] for _ in heads]
    if km != metrics:
        problems.append(f"metrics {km}, wgfit's {metrics}")
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir", help="the reference models (WGFIT_TO_KERAS_DIR)")
    p.add_argument("--golden", required=True, help="tests/golden/wgfit_to_keras.json")
    p.add_argument("--keras", action="store_true",
                   help="load each file with Keras and rewrite the golden file (needs TF)")
    args = p.parse_args(argv)
    names = sorted(f[:-6] for f in os.listdir(args.dir) if f.endswith(".wgfit"))
    names = [n for n in names if os.path.exists(os.path.join(args.dir, f"{n}.json"))]
    golden = {"models": {}}
    if os.path.exists(args.golden):
        with open(args.golden) as f:
            golden = json.load(f)
    failed = []
    for name in names:
        wgfit = os.path.join(args.dir, f"{name}.wgfit")
        keras_path = os.path.join(args.dir, f"{name}.keras")
        if args.keras or not os.path.exists(keras_path):
            w2k.convert(wgfit, keras_path)
        if args.keras:
            try:
                ok, entry = keras_check(name, args.dir, keras_path)
            except Exception as e:  # noqa: BLE001 (recorded, and the run fails)
                ok, entry = False, {"ok": False, "max_abs_error": [], "error": repr(e)[:500],
                                    "weights": {}}
            golden["models"][name] = entry
            print(f"{name}: {'ok' if ok else 'FAILED'} max abs error "
                  f"{max(entry['max_abs_error'] or [float('nan')]):.3g} {entry.get('error', '')}")
            if not ok:
                failed.append(name)
            continue
        problems = check_structure(name, wgfit, keras_path, golden["models"].get(name))
        if problems:
            failed.append(name)
            print(f"{name}: FAILED")
            for pr in problems:
                print(f"  {pr}")
        else:
            print(f"{name}: ok")
    if args.keras:
        import keras
        import tensorflow as tf
        golden.update({"keras": keras.__version__, "tensorflow": tf.__version__,
                       "tolerance": TOLERANCE})
        with open(args.golden, "w") as f:
            json.dump(golden, f, indent=1, sort_keys=True)
            f.write("\n")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
