#!/usr/bin/env python3
"""Checks ONNX files exported by wgfit (Model::export_onnx) against wgfit's own predictions.

Usage: python tools/check_onnx.py DIR [--tol 1e-5]

DIR holds, for each model CASE, CASE.onnx and one or more input sets SET:
CASE.SET.in0.npy, CASE.SET.in1.npy, ... (the model's inputs, in order) and CASE.SET.out0.npy,
... (wgfit's predictions for them). Each model is loaded in onnxruntime (CPU), fed each set
(inputs cast to the dtype the model declares: int64 for token ids), and every output compared
with wgfit's: |onnx - wgfit| <= tol * (1 + |wgfit|). Prints the largest error per case and
set; exits 1 if any output misses (or a shape differs), 2 if DIR holds no model.
Needs numpy and onnxruntime (pip install numpy onnxruntime).
"""

import argparse
import glob
import os
import re
import sys

import numpy as np
import onnxruntime as ort

DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def sets_of(directory, case):
    """The input-set names of CASE in DIR, sorted."""
    names = set()
    for path in glob.glob(os.path.join(directory, f"{glob.escape(case)}.*.in0.npy")):
        m = re.fullmatch(re.escape(case) + r"\.(.+)\.in0\.npy", os.path.basename(path))
        if m:
            names.add(m.group(1))
    return sorted(names)


def check(directory, case, tol):
    """Runs CASE's sets; returns the number of misses."""
    sess = ort.InferenceSession(
        os.path.join(directory, case + ".onnx"), providers=["CPUExecutionProvider"]
    )
    inputs = sess.get_inputs()
    misses = 0
    sets = sets_of(directory, case)
    if not sets:
        print(f"MISS {case}: no input sets ({case}.SET.in0.npy)")
        return 1
    for s in sets:
        feed = {}
        for k, inp in enumerate(inputs):
            a = np.load(os.path.join(directory, f"{case}.{s}.in{k}.npy"))
            feed[inp.name] = a.astype(DTYPES[inp.type])
        got = sess.run(None, feed)
        for k, g in enumerate(got):
            want = np.load(os.path.join(directory, f"{case}.{s}.out{k}.npy"))
            shape = "x".join(map(str, want.shape))
            if g.shape != want.shape:
                print(f"MISS {case} set {s} output {k}: shape {g.shape}, wgfit's {want.shape}")
                misses += 1
                continue
            err = float(np.max(np.abs(g - want))) if want.size else 0.0
            ok = bool(np.all(np.abs(g - want) <= tol * (1 + np.abs(want))))
            print(f"{'ok  ' if ok else 'MISS'} {case} set {s} output {k} [{shape}]: max |err| {err:.3g}")
            misses += 0 if ok else 1
    return misses


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir")
    p.add_argument("--tol", type=float, default=1e-5)
    args = p.parse_args()
    cases = sorted(os.path.basename(f)[: -len(".onnx")] for f in glob.glob(os.path.join(args.dir, "*.onnx")))
    if not cases:
        print(f"no .onnx files in {args.dir}")
        return 2
    misses = sum(check(args.dir, c, args.tol) for c in cases)
    print(f"{len(cases)} models, {misses} misses (onnxruntime {ort.__version__}, tol {args.tol:g})")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
