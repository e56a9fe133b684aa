#!/usr/bin/env python3
"""The performance issues' workloads W1-W6u in PyTorch (CPU, 2 threads), whole-process, one per
run; prints the line `examples/workloads.rs` prints for wgfit (run by hand where torch is
installed):

    python benches/peers/torch_workloads.py W2         # W1 W2 W3 W4 W4u W5 W5u W6 W6u
    TORCH_DEVICE=cuda python benches/peers/torch_workloads.py W4   # on an NVIDIA GPU (cuDNN)

Same recipe as examples/workloads.rs and keras_workloads.py: uniform [0, 1) features, random
labels, Adam with Keras's defaults (lr 1e-3, eps 1e-7), no shuffling cost beyond an index
permutation per epoch. Masked sequences (W3, W4, W5, W6) go through `pack_padded_sequence`,
PyTorch's way to skip padding; the `u` variants run the padded batch as it is. W5 is W4 with an
`nn.GRU(10, 128)`, W6 with a bidirectional `nn.LSTM(10, 64)` (both final states concatenated,
as Keras's Bidirectional does). The models mirror the Keras ones: LSTM
state at the last real step -> Dense(1), with the sigmoid and the binary crossentropy fused
(`BCEWithLogitsLoss`), and softmax + crossentropy fused (`CrossEntropyLoss`), as Keras's
TensorFlow backend computes them.
"""

import os
import resource
import sys
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(2)
DEVICE = torch.device(os.environ.get("TORCH_DEVICE", "cpu"))
# FP32 as wgfit computes it: no TF32 tensor-core shortcuts in cuBLAS or cuDNN.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x, lengths=None):
        return self.net(x)


class Lstm(nn.Module):
    """LSTM (or `kind` "gru", or "bilstm") -> the last state(s) -> Linear(1)."""

    def __init__(self, units, packed, kind="lstm"):
        super().__init__()
        rnn = nn.GRU if kind == "gru" else nn.LSTM
        self.lstm = rnn(10, units, batch_first=True, bidirectional=kind == "bilstm")
        self.dense = nn.Linear(units * (2 if kind == "bilstm" else 1), 1)
        self.packed = packed
        self.kind = kind

    def forward(self, x, lengths=None):
        if self.packed:
            x = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                  enforce_sorted=False)
        _, h = self.lstm(x)
        h = h if self.kind == "gru" else h[0]
        if self.kind == "bilstm":
            return self.dense(torch.cat([h[-2], h[-1]], dim=1))
        return self.dense(h[-1])


def sequences(rng, n, lo, hi):
    x = np.zeros((n, hi, 10), np.float32)
    lengths = rng.integers(lo, hi + 1, n)
    for i, length in enumerate(lengths):
        x[i, :length] = rng.uniform(np.finfo(np.float32).eps, 1.0, (length, 10))
    return torch.from_numpy(x), torch.from_numpy(lengths)


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "W1"
    rng = np.random.default_rng(0)
    lengths = None
    if name in ("W1", "W2"):
        n = 1000 if name == "W1" else 60000
        x = torch.from_numpy(rng.random((n, 28, 28), dtype=np.float32))
        y = torch.from_numpy(rng.integers(0, 10, n))
        model, loss_fn = Mlp(), nn.CrossEntropyLoss()
    else:
        n, lo, hi, units = (10, 10, 19, 32) if name == "W3" else (2000, 10, 100, 128)
        x, lengths = sequences(rng, n, lo, hi)
        y = torch.from_numpy(rng.integers(0, 2, (n, 1)).astype(np.float32))
        kind = {"W5": "gru", "W6": "bilstm"}.get(name.rstrip("u"), "lstm")
        units = 64 if kind == "bilstm" else units
        model = Lstm(units, packed=not name.endswith("u"), kind=kind)
        bce = nn.BCEWithLogitsLoss()
        loss_fn = bce
    batch_size, epochs = {"W1": (32, 10), "W2": (128, 3), "W3": (2, 10), "W4": (64, 3),
                          "W4u": (64, 3), "W5": (64, 3), "W5u": (64, 3), "W6": (64, 3),
                          "W6u": (64, 3)}[name]
    model = model.to(DEVICE)
    x, y = x.to(DEVICE), y.to(DEVICE)  # lengths stay on the CPU, as packing wants them
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    ends = [time.perf_counter()]
    for _ in range(epochs):
        order = torch.randperm(n)
        total = torch.zeros((), device=DEVICE)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            out = model(x[idx.to(DEVICE)], None if lengths is None else lengths[idx])
            loss = loss_fn(out, y[idx.to(DEVICE)])
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)  # read back once per epoch, as wgfit's fit
        total = total.item()
        ends.append(time.perf_counter())
    first = 0 if name in ("W1", "W3") else 1
    seconds = ends[-1] - ends[first]
    samples = n * (len(ends) - 1 - first)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'workload={name} tool=torch-{torch.__version__} device="{DEVICE}" '
          f'samples_per_s={samples / seconds:.0f} wall_s={time.perf_counter() - START:.2f} '
          f'peak_rss_mib={rss:.0f} final_loss={total / n:.4f}')


if __name__ == "__main__":
    main()
