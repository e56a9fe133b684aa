#!/usr/bin/env python3
"""PyTorch's side of the GPU comparison (benches/peers/gpu_compare.sh): FP32 matmul through
cuBLAS with TF32 off, and one LSTM training step through cuDNN, on the shapes wgfit's
`cargo bench --bench kernels` and `--bench training` measure:

    python benches/peers/torch_gpu_kernels.py

- matmul n x n x n for n in 128, 512, 1024, 2048, 4096, and the W2/W4 training shapes of
  `--bench kernels` (`w2_xW_128x784x128`, `dW_128x6400x512_At`, ...): GFLOP/s (2 m k n per
  product) two ways, like wgfit's rows: `sync`, one product then `torch.cuda.synchronize()`
  timed on the host (the round trip included, like `gpu_vec4`), and `queued`, many products
  between two CUDA events, per product (like `gpu_vec4_queued`); medians of 20 after 5 warm-up
  runs;
- LSTM(128) -> Linear(1), binary crossentropy, Adam, B=64, T=100, F=10 (wgfit's
  `lstm_train_step`): milliseconds per step, median of 20.
Prints one `bench=... tool=torch-... device=...` line per figure.
"""

import statistics
import time

import torch
from torch import nn

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEVICE = torch.device("cuda")
NAME = torch.cuda.get_device_name(0)


def timed(fn, warmup=5, runs=20):
    """Median milliseconds of fn() on the GPU, by CUDA events."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def host_timed(fn, warmup=5, runs=20):
    """Median milliseconds of fn() then a synchronize, on the host's clock."""
    for _ in range(warmup):
        fn()
        torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# (label, m, k, n, a transposed): the rows of wgfit's `cargo bench --bench kernels` matmul group.
SHAPES = [(str(n), n, n, n, False) for n in (128, 512, 1024, 2048, 4096)] + [
    ("w2_xW_128x784x128", 128, 784, 128, False),
    ("w2_dW_784x128x128_At", 784, 128, 128, True),
    ("xproj_6400x10x512", 6400, 10, 512, False),
    ("step_64x128x512", 64, 128, 512, False),
    ("dWx_10x6400x512_At", 10, 6400, 512, True),
    ("dW_128x6400x512_At", 128, 6400, 512, True),
]


def main():
    for label, m, k, n, trans_a in SHAPES:
        a = torch.rand((k, m) if trans_a else (m, k), device=DEVICE) - 0.5
        b = torch.rand(k, n, device=DEVICE) - 0.5
        product = (lambda: a.t() @ b) if trans_a else (lambda: a @ b)
        flop = 2 * m * k * n
        queue = max(2, min(64, 2**31 // (m * k * n)))

        def queued():
            for _ in range(queue):
                product()

        tool = f"torch-{torch.__version__}-cublas-fp32"
        for way, ms in (("sync", host_timed(product)), ("queued", timed(queued) / queue)):
            print(f'bench=matmul_{label} way={way} tool={tool} device="{NAME}" '
                  f'ms={ms:.4f} gflops={flop / ms / 1e6:.1f}')

    lstm = nn.LSTM(10, 128, batch_first=True).to(DEVICE)
    dense = nn.Linear(128, 1).to(DEVICE)
    params = list(lstm.parameters()) + list(dense.parameters())
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.rand(64, 100, 10, device=DEVICE)
    y = torch.randint(0, 2, (64, 1), device=DEVICE).float()

    def step():
        opt.zero_grad()
        _, (h, _) = lstm(x)
        loss = loss_fn(dense(h[-1]), y)
        loss.backward()
        opt.step()

    ms = timed(step)
    print(f'bench=lstm_train_step_b64_t100_u128 tool=torch-{torch.__version__}-cudnn '
          f'device="{NAME}" ms={ms:.3f} samples_per_s={64 / ms * 1e3:.0f}')
    print(f'bench=gpu_memory tool=torch-{torch.__version__} device="{NAME}" '
          f'max_allocated_mib={torch.cuda.max_memory_allocated() / 2**20:.0f}')


if __name__ == "__main__":
    main()
