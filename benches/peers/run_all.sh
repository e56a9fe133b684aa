#!/usr/bin/env bash
# Runs W1-W6u (or those in $WORKLOADS) for wgfit (CPU reference; WGFIT_DEVICE=gpu for the GPU)
# and for each peer that is installed, one process at a time, each printing one
# `workload=... tool=...` line. Burn's program has W1-W4u only (its LSTM and GRU take no mask).
#
#   KERAS_PYTHON=/path/to/venv/bin/python TORCH_PYTHON=/path/to/venv/bin/python BURN=1 \
#     bash benches/peers/run_all.sh
# (BURN=1 builds benches/peers/burn, which downloads and compiles Burn: several minutes.)
set -uo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --example workloads -q
if [ -n "${BURN:-}" ]; then
  CARGO_TARGET_DIR=target/peers-burn cargo build --release -q --manifest-path benches/peers/burn/Cargo.toml
fi
export WGFIT_DEVICE="${WGFIT_DEVICE:-cpu}"
for w in ${WORKLOADS:-W1 W2 W3 W4 W4u W5 W5u W6 W6u}; do
  target/release/examples/workloads "$w"
  if [ -n "${KERAS_PYTHON:-}" ]; then
    "$KERAS_PYTHON" benches/peers/keras_workloads.py "$w" 2>/dev/null | grep '^workload='
  fi
  if [ -n "${TORCH_PYTHON:-}" ]; then
    "$TORCH_PYTHON" benches/peers/torch_workloads.py "$w" 2>/dev/null | grep '^workload='
  fi
  if [ -n "${BURN:-}" ] && [[ "$w" != W5* && "$w" != W6* ]]; then
    target/peers-burn/release/burn_workloads "$w"
  fi
done
