#!/usr/bin/env python3
"""PyTorch's side of the GPU comparison (benches/peers/gpu_compare.sh): FP32 matmul through
cuBLAS with TF32 off, and one LSTM training step through cuDNN, on the shapes wgfit's
`cargo bench --bench kernels` and `--bench training` measure:

    python benches/peers/torch_gpu_kernels.py

- matmul n x n x n for n in 1024, 2048, 4096: GFLOP/s (2 n^3 per product), median of 20 runs
  timed with CUDA events after 5 warm-up runs;
- LSTM(128) -> Linear(1), binary crossentropy, Adam, B=64, T=100, F=10 (wgfit's
  `lstm_train_step`): milliseconds per step, median of 20.
Prints one `bench=... tool=torch-... device=...` line per figure.
"""

import statistics

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


def main():
    for n in (1024, 2048, 4096):
        a = torch.rand(n, n, device=DEVICE) - 0.5
        b = torch.rand(n, n, device=DEVICE) - 0.5
        ms = timed(lambda: a @ b)
        print(f'bench=matmul_{n} tool=torch-{torch.__version__}-cublas-fp32 device="{NAME}" '
              f'ms={ms:.3f} gflops={2 * n**3 / ms / 1e6:.0f}')

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
