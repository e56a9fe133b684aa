#!/usr/bin/env python3
"""By hand, in the TF venv: Keras opens the text models tools/wgfit_to_keras.py wrote and
predicts from strings what wgfit predicted; records the largest difference per case.

    WGFIT_TEXT_TO_KERAS_DIR=/tmp/t cargo test --release --test keras_text_model_files
    TF_ENABLE_ONEDNN_OPTS=0 python tools/check_text_wgfit_to_keras.py /tmp/t \\
        tests/golden/text_wgfit_to_keras.json

tests/keras_text_model_files.rs checks the record (each case within 1e-5).
"""

import json
import os
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(argv=None):
    folder, out = (sys.argv[1:] if argv is None else argv)[:2]
    cases = {}
    for name in sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".json")):
        with open(os.path.join(folder, f"{name}.json")) as f:
            want = json.load(f)
        model = keras.saving.load_model(os.path.join(folder, f"{name}.keras"))
        got = model.predict(tf.constant(want["texts"])[:, None], verbose=0)
        err = float(np.max(np.abs(np.asarray(got) - np.asarray(want["pred"]))))
        cases[name] = {"max_abs_err": err, "texts": want["texts"],
                       "keras_pred": np.asarray(got, np.float64).tolist()}
        print(f"{name}: max |keras - wgfit| = {err:.3g}")
    with open(out, "w") as f:
        json.dump({"keras": keras.__version__, "backend": keras.backend.backend(),
                   "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
