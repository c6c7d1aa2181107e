#!/usr/bin/env bash
# Measure pure16 beside PyTorch on this machine and regenerate BENCHMARKS.md (+ the plot
# docs/img/bench_epoch.png). Every ratio in the report comes from this one run.
#
#   scripts/bench.sh            full run (about 20-30 minutes on 2 cores)
#   scripts/bench.sh --quick    a few minutes: short repetitions, no AlexNet, 2000 CIFAR images
#   options: --build DIR (default build/bench)  --out DIR (raw JSON; default build/bench/results)
#            --no-peer (skip PyTorch)  --peer-runs N (PyTorch processes, the fastest kept;
#            default 3)  --no-report (JSON only)
#
# What runs:
#   bench_models      training step / inference pass of each example network in fp16, bf16,
#                     fp32 at 1 and 2 threads (per-layer counters), batch-1 4096-MLP latency
#   bench_gemm_avx2   pure16's GEMM beside Eigen's float GEMM (Eigen built for AVX2+FMA)
#   cifar10_cnn       one short real training run per precision, alone in its process, for
#                     peak resident memory (VmHWM) and seconds per epoch
#   bench/peers/torch_train.py  the same networks in PyTorch (fp32, bf16) with OpenBLAS; the
#                     peer runs without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
#   bf16 without AVX512_BF16 kernels: bench_models with PURE16_ISA=avx2 beside
#                     torch_train.py --no-mkldnn (PyTorch's generic bf16 code), 1 thread
# Other processes on the machine change the timings: the report records the load average
# before and after the run.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 peer=1 report=1 peer_runs=3
build=build/bench
out=""
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --no-peer) peer=0 ;;
    --peer-runs) peer_runs="$2"; shift ;;
    --no-report) report=0 ;;
    --build) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$build/results}
mkdir -p "$out"

echo "bench: configuring $build" >&2
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPURE16_BUILD_TESTS=OFF \
  -DPURE16_BUILD_BENCH=ON -DPURE16_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" --target bench_models bench_gemm_avx2 cifar10_cnn -j"$(nproc)" >&2

# ---- machine ------------------------------------------------------------------------------
# OpenMP's default wait policy spins at every barrier; when other processes already keep the
# CPUs busy, a spinning thread waits for one that is not running and a 2-thread step becomes
# many times slower than 1 thread (measured: MNIST MLP fp16 187 ms/step at 2 threads vs
# 9 ms with OMP_WAIT_POLICY=passive, load average 11 on 2 CPUs). Unless the caller chose a
# policy, a loaded machine (1-minute load average >= CPUs - 0.5) gets the passive one.
if [[ -z "${OMP_WAIT_POLICY:-}" ]]; then
  if python3 -c "import os,sys; sys.exit(0 if os.getloadavg()[0] >= os.cpu_count() - 0.5 else 1)"; then
    export OMP_WAIT_POLICY=passive
    echo "bench: machine loaded, OMP_WAIT_POLICY=passive" >&2
  fi
fi
python3 - "$out/system.json" "$quick" <<'EOF'
import json, os, subprocess, sys, time
lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
info = dict(l.split(":", 1) for l in lscpu.splitlines() if ":" in l)
info = {k.strip(): v.strip() for k, v in info.items()}
flags = info.get("Flags", "").split()
doc = {
    "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "cpu_model": info.get("Model name"),
    "cpus": info.get("CPU(s)"),
    "threads_per_core": info.get("Thread(s) per core"),
    "cores_per_socket": info.get("Core(s) per socket"),
    "isa_flags": [f for f in ("avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16",
                              "amx_bf16") if f in flags],
    "loadavg_before": os.getloadavg(),
    "quick": sys.argv[2] == "1",
    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    "compiler": subprocess.run(["c++", "--version"], capture_output=True,
                               text=True).stdout.splitlines()[0],
}
json.dump(doc, open(sys.argv[1], "w"), indent=1)
EOF

# ---- pure16 --------------------------------------------------------------------------------
if ((quick)); then
  min_time=0.1 reps=1 filter='^(train|infer)/(mnist_mlp|lenet|cifar_small_cnn)/|^mlp4096'
  gemm_filter='BM_(pure16<(half|bfloat16|float)>|eigen<float>)/M:(512|128)/N:512/K:(512|784)/.*thr:1'
  cifar_train=2000
else
  min_time=0.2 reps=3 filter='.' gemm_filter='BM_(pure16<(half|bfloat16|float)>|eigen<float>)/.*thr:1'
  cifar_train=10000
fi
echo "bench: bench_models" >&2
# repetitions in random order, the median kept: load bursts from other processes then do
# not land on one precision's figures only
"$build/bench/bench_models" --benchmark_filter="$filter" --benchmark_min_time="$min_time" \
  --benchmark_repetitions="$reps" --benchmark_enable_random_interleaving=true \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/models.json" --benchmark_out_format=json >&2
echo "bench: bench_gemm_avx2" >&2
"$build/bench/bench_gemm_avx2" --benchmark_filter="$gemm_filter" --benchmark_min_time="$min_time" \
  --benchmark_out="$out/gemm.json" --benchmark_out_format=json >&2

# peak memory and real seconds/epoch: one process per precision, 1 thread
data_dir=${PURE16_DATA:-/work/shared/data}
if [[ -d "$data_dir/cifar-10-batches-bin" ]]; then
  for p in fp16 bf16 fp32; do
    echo "bench: cifar10_cnn --precision $p" >&2
    OMP_NUM_THREADS=1 "$build/examples/cifar10_cnn" --precision "$p" --epochs 1 --quiet \
      --threads 1 --train-limit "$cifar_train" --test-limit 1000 \
      --data "$data_dir/cifar-10-batches-bin" --json "$out/cifar_$p.json" >&2
  done
else
  echo "bench: no CIFAR-10 under $data_dir (set PURE16_DATA): peak memory skipped" >&2
fi

# ---- PyTorch -------------------------------------------------------------------------------
if ((peer)); then
  py=/usr/bin/python3  # Debian's interpreter, where python3-torch lives
  peer_args=(--threads 1 2)
  ((quick)) && peer_args+=(--quick --networks mnist_mlp lenet cifar_small_cnn)
  # PyTorch's step time changes by up to 1.8x from one process to the next on this machine:
  # the report keeps the fastest of the runs for each figure
  rm -f "$out"/torch.json "$out"/torch_run*.json
  for ((i = 1; i <= peer_runs; i++)); do
    echo "bench: PyTorch peer, process $i of $peer_runs" >&2
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" bench/peers/torch_train.py \
      "${peer_args[@]}" --out "$out/torch_run$i.json"
  done
fi

# bf16 as on a CPU without AVX512_BF16, on this one: pure16 limited to its AVX2 kernels
# (PURE16_ISA=avx2) beside PyTorch without oneDNN (its generic bf16 code, what it runs where
# oneDNN has no bf16 kernels); 1 thread, the three smaller networks
echo "bench: bf16 without AVX512_BF16 kernels (PURE16_ISA=avx2; PyTorch --no-mkldnn)" >&2
PURE16_ISA=avx2 "$build/bench/bench_models" \
  --benchmark_filter='^train/(mnist_mlp|lenet|cifar_small_cnn)/bf16/threads:1/' \
  --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/models_avx2.json" --benchmark_out_format=json >&2
if ((peer)); then
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" bench/peers/torch_train.py --threads 1 \
    --precisions bf16 --no-mkldnn --quick --networks mnist_mlp lenet cifar_small_cnn \
    --out "$out/torch_generic.json"
fi

python3 - "$out/system.json" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
d["loadavg_after"] = os.getloadavg()
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF

if ((report)); then
  /usr/bin/python3 tools/bench_report.py --dir "$out" --markdown BENCHMARKS.md \
    --plot docs/img/bench_epoch.png --notes bench/NOTES.md
fi
