#!/usr/bin/env bash
# pure16's main job: train a 784-512-512-10 MLP on MNIST in fp16 and fp32 side by side and
# print the comparison table (test accuracy, train loss, time per epoch, peak memory, model
# bytes, prediction agreement). Runs in a few minutes on 2 cores.
#
#   scripts/demo.sh                 dependencies, MNIST, Release build, fp16 + fp32 run
#   scripts/demo.sh --epochs 8      extra arguments go to mnist_mlp (see mnist_mlp --help)
#
# Outputs go to build/demo/: the table as JSON (mnist_mlp.json), per-epoch CSV logs (csv/)
# and, when matplotlib is there, the curves (mnist_mlp_curves.png).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${PURE16_DEMO_BUILD:-build/demo}

scripts/deps.sh demo
scripts/fetch_data.sh mnist
data=${PURE16_DATA:-$HOME/.cache/pure16}/mnist

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DPURE16_BUILD_TESTS=OFF \
  -DPURE16_BUILD_BENCH=OFF -DPURE16_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" --target mnist_mlp -j "$(nproc)"

mkdir -p "$build/out"
"$build/examples/mnist_mlp" --data "$data" --precision fp16,fp32 \
  --json "$build/out/mnist_mlp.json" --csv "$build/out/csv" "$@"

if /usr/bin/python3 -c "import matplotlib" 2>/dev/null; then
  /usr/bin/python3 tools/plot_runs.py -o "$build/out/mnist_mlp_curves.png" \
    "$build/out/csv/mnist_mlp_fp16.csv" "$build/out/csv/mnist_mlp_fp32.csv" >/dev/null
fi
echo
echo "demo: report in $root/$build/out (mnist_mlp.json, csv/, mnist_mlp_curves.png)"
