#!/usr/bin/env bash
# wgfit (wgpu on Vulkan) against PyTorch (CUDA: cuBLAS FP32 with TF32 off, cuDNN LSTM) on the
# same NVIDIA GPU, run by hand on a machine that has one:
#
#   TORCH_PYTHON=/path/to/venv/bin/python bash benches/peers/gpu_compare.sh
#
# wgfit: criterion's matmul for every GPU kernel at 1024..4096, and for the vec4 kernel at
# 128, 512 and the W2/W4 training shapes, each timed two ways: one product per submit + wait
# (`gpu_vec4`, ...: the round trip included) and many per submit (`gpu_vec4_queued`: the time
# per product without it); then the LSTM forward pass and the LSTM training step (B=64, T=100,
# F=10, units=128) with each LSTM kernel (per-step dispatches, persistent, and what `Auto`
# picks), then W4 and W4u on the GPU for 10 epochs with each kernel, which also print the
# buffer pool's size at every epoch's end (GPU memory across epochs).
# PyTorch: the same matmuls, also both ways (one per synchronize; many between two CUDA
# events), and LSTM step (benches/peers/torch_gpu_kernels.py), then W4-W6u on CUDA (cuDNN's
# GRU and bidirectional LSTM for W5 and W6).
# WGFIT_MATMUL_WORKGROUPS (default 256 on a discrete GPU) is the matmul's target workgroup
# count; set it to twice the GPU's SMs / CUs to model that GPU (an H100: 264).
# Needs a Vulkan loader and the NVIDIA ICD (`vulkaninfo --summary` lists the GPU); where the
# loader is missing, see the device notes in BENCHMARKS.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
export WGFIT_DEVICE=vulkan
# One line per row: its id and GFLOP/s (criterion's elem/s is FLOP/s here).
gflops() {
  awk '/^matmul\// { id = $1 } /thrpt:/ && id {
    v = $4; u = $5
    s = (u ~ /^G/) ? 1 : (u ~ /^M/) ? 1e-3 : (u ~ /^T/) ? 1e3 : (u ~ /^K/) ? 1e-6 : 1e-9
    printf "bench=%s tool=wgfit gflops=%.1f\n", id, v * s; id = "" }'
}
cargo bench --bench kernels -- \
  'matmul/gpu_.*/(1024|2048|4096)$|matmul/gpu_vec4(_queued)?/(128|512|w2_.*|dWx?_.*|xproj_.*|step_.*)$' \
  --warm-up-time 1 --measurement-time 5 2>&1 | tee /dev/stderr | gflops
cargo bench --bench training -- 'lstm_train_step|lstm_forward' --warm-up-time 1 \
  --measurement-time 5 2>&1 | grep -E '^lstm_(train_step|forward)/|time:|thrpt:'
cargo build --release --example workloads -q
# W4 (masked LSTM 128) and W5 (masked GRU 128, issue 17), masked and not, with each kernel.
for kernel in auto per-step persistent; do
  for w in W4 W4u W5 W5u; do
    echo "WGFIT_LSTM_KERNEL=$kernel"
    WGFIT_LSTM_KERNEL=$kernel target/release/examples/workloads "$w" 10
  done
done
# W6 (masked Bidirectional LSTM 64, issue 17, `Auto`), masked and not, 10 epochs.
for w in W6 W6u; do
  target/release/examples/workloads "$w" 10
done
if [ -n "${TORCH_PYTHON:-}" ]; then
  "$TORCH_PYTHON" benches/peers/torch_gpu_kernels.py
  for w in W4 W4u W5 W5u W6 W6u; do
    TORCH_DEVICE=cuda "$TORCH_PYTHON" benches/peers/torch_workloads.py "$w" 2>/dev/null |
      grep '^workload='
  done
fi
