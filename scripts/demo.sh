#!/usr/bin/env bash
# pure16's main job: train a 784-512-512-10 MLP on MNIST in fp16 and fp32 side by side and
# print the comparison table.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f examples/mnist_mlp.cpp ]]; then
  echo "demo: not yet available (the MNIST examples have not landed)"
  exit 0
fi
