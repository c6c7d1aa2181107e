#!/usr/bin/env bash
# The pure 16-bit training study, reproduced on this CPU with error bars: every network of
# the study trained in fp32, fp16, mixed precision, bf16, fp16 + stochastic rounding and
# fp16 + compensated updates over several seeds, then REPRODUCTION.md (tables, precision
# analysis, per-epoch plots with the seed band) written by tools/reproduction_report.py.
#
#   scripts/reproduce.sh                   quick scale: about 12 minutes on 2 cores
#   scripts/reproduce.sh --scale study     the committed REPRODUCTION.md (about 2 hours)
#   scripts/reproduce.sh --scale full      the published protocol (AlexNet variant 100 epochs
#                                          on 50,000 images...): days on 2 cores, see below
#   options: --jobs N (parallel runs; default: the number of CPUs)  --build DIR
#            (default build/release)  --out DIR (JSON of every run; default
#            build/reproduce-<scale>)  --report FILE (default REPRODUCTION.md)
#            --only NAME[,NAME] (networks: mlp,lenet,cnn,cnn_bn,alexnet,autoencoder)
#            --report-only (rebuild the report from the JSON already in --out)
# The committed REPRODUCTION.md's run reports are kept in docs/reproduction/study:
#   scripts/reproduce.sh --scale study --out docs/reproduction/study --report-only
#
# Each run is one example program (examples/) for one network and one seed, training every
# precision of the study from the same initial weights and the same batches, single-threaded
# (runs go side by side, --jobs at a time: seconds per epoch are measured that way, which
# the report states). Scales (train images x epochs x seeds):
#   network       quick              study                full
#   MNIST MLP     60k x 2 x 2        60k x 5 x 5          60k x 20 x 10
#   LeNet         60k x 1 x 2        60k x 2 x 5          60k x 20 x 10
#   small CNN     5k x 2 x 2         20k x 8 x 3          50k x 30 x 5
#   + BatchNorm   5k x 2 x 1         10k x 6 x 2          50k x 30 x 5   (fp32, fp16, mixed)
#   AlexNet var.  2k x 1 x 1         10k x 2 x 1          50k x 100 x 3  (batch 256, SGD 0.01 m 0.9)
#   autoencoder   20k x 2 x 1        60k x 3 x 3          60k x 20 x 5   (fp32, fp16, compensated,
#                                                                         mixed; mean and sum MSE)
# The full scale's AlexNet variant alone is about 100 x 1,400 s of single-thread work per seed
# on this 2-core machine (six precisions): about 4 days for three seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scale=quick jobs=$(nproc) build=build/release out="" report=REPRODUCTION.md only="" report_only=0
while (($#)); do
  case "$1" in
    --scale) scale="$2"; shift ;;
    --jobs) jobs="$2"; shift ;;
    --build) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    --report) report="$2"; shift ;;
    --only) only="$2"; shift ;;
    --report-only) report_only=1 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "reproduce.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$scale" in quick | study | full) ;; *)
  echo "reproduce.sh: --scale must be quick, study or full, not '$scale'" >&2; exit 2 ;;
esac
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "reproduce.sh: --jobs must be a positive integer" >&2; exit 2; }
out=${out:-build/reproduce-$scale}
mkdir -p "$out"

# name  example-and-arguments                              train-limit epochs seeds precisions
all_precisions=fp32,fp16,mixed,bf16,fp16+stochastic,fp16+compensated
case "$scale" in
  quick)
    plan="mlp|mnist_mlp|0|2|2|$all_precisions
lenet|mnist_cnn|0|1|2|$all_precisions
cnn|cifar10_cnn --model small|5000|2|2|$all_precisions
cnn_bn|cifar10_cnn --model small --batch-norm|5000|2|1|fp32,fp16,mixed
alexnet|cifar10_cnn --model alexnet|2000|1|1|$all_precisions
autoencoder|mnist_autoencoder --reduction mean|20000|2|1|fp32,fp16,fp16+compensated,mixed
autoencoder_sum|mnist_autoencoder --reduction sum|20000|2|1|fp32,fp16,fp16+compensated,mixed" ;;
  study)
    plan="mlp|mnist_mlp|0|5|5|$all_precisions
lenet|mnist_cnn|0|2|5|$all_precisions
cnn|cifar10_cnn --model small|20000|8|3|$all_precisions
cnn_bn|cifar10_cnn --model small --batch-norm|10000|6|2|fp32,fp16,mixed
alexnet|cifar10_cnn --model alexnet|10000|2|1|$all_precisions
autoencoder|mnist_autoencoder --reduction mean|0|3|3|fp32,fp16,fp16+compensated,mixed
autoencoder_sum|mnist_autoencoder --reduction sum|0|3|3|fp32,fp16,fp16+compensated,mixed" ;;
  full)
    plan="mlp|mnist_mlp|0|20|10|$all_precisions
lenet|mnist_cnn|0|20|10|$all_precisions
cnn|cifar10_cnn --model small|0|30|5|$all_precisions
cnn_bn|cifar10_cnn --model small --batch-norm|0|30|5|fp32,fp16,mixed
alexnet|cifar10_cnn --model alexnet|0|100|3|$all_precisions
autoencoder|mnist_autoencoder --reduction mean|0|20|5|fp32,fp16,fp16+compensated,mixed
autoencoder_sum|mnist_autoencoder --reduction sum|0|20|5|fp32,fp16,fp16+compensated,mixed" ;;
esac

if ((!report_only)); then
  scripts/deps.sh demo >/dev/null
  scripts/fetch_data.sh mnist cifar10 >/dev/null
  data_root=${PURE16_DATA:-$HOME/.cache/pure16}
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" -j "$(nproc)" --target mnist_mlp mnist_cnn cifar10_cnn mnist_autoencoder

  # One line per run: the command, for xargs. The longest runs go first so that the parallel
  # slots finish together.
  runs=$out/runs.txt
  : >"$runs"
  while IFS='|' read -r name example limit epochs seeds precisions; do
    [[ -n "$only" && ",$only," != *",${name%_sum},"* && ",$only," != *",$name,"* ]] && continue
    read -r program args <<<"$example"
    case "$program" in
      cifar10_cnn) data=$data_root/cifar-10 ;;
      *) data=$data_root/mnist ;;
    esac
    for ((seed = 1; seed <= seeds; seed++)); do
      json=$out/${name}_seed$seed.json
      [[ -s "$json" ]] && continue  # already done: resume an interrupted study
      limit_arg=""
      ((limit > 0)) && limit_arg="--train-limit $limit"
      echo "$build/examples/$program $args --data $data $limit_arg --epochs $epochs --seed $seed" \
        "--precision $precisions --threads 1 --quiet --json $json --csv $out/csv/${name}_seed$seed" \
        >>"$runs"
    done
  done <<<"$plan"
  # CIFAR-10 runs first (the longest), then the rest
  awk '/cifar10_cnn/ {print; next} {rest = rest $0 "\n"} END {printf "%s", rest}' "$runs" \
    >"$runs.sorted"
  echo "reproduce.sh: $(wc -l <"$runs.sorted") runs, $jobs at a time, scale $scale -> $out"
  start=$(date +%s)
  date -u +%FT%TZ >"$out/started"
  # The code the runs use, and the load before them (other processes slow the timings).
  git rev-parse --short HEAD >"$out/commit" 2>/dev/null || echo "?" >"$out/commit"
  git diff --quiet HEAD -- include examples 2>/dev/null || echo "(with local changes)" >>"$out/commit"
  cut -d' ' -f1-3 /proc/loadavg >"$out/load_before"
  # Each run logs to <json>.log; a failed run stops nothing else but fails the script.
  status=0
  xargs -P "$jobs" -I{} -d '\n' bash -c 'cmd="$1"; log="${cmd##*--json }"; log="${log%% *}.log";
    OMP_NUM_THREADS=1 $cmd >"$log" 2>&1 || { echo "FAILED: $cmd (see $log)" >&2; exit 1; }' _ {} \
    <"$runs.sorted" || status=$?
  echo $(($(date +%s) - start)) >"$out/wall_seconds"
  cut -d' ' -f1-3 /proc/loadavg >"$out/load_after"
  ((status == 0)) || { echo "reproduce.sh: some runs failed" >&2; exit 1; }
fi

# The committed report keeps its plots in docs/img/reproduction; any other report gets img/
# beside it, so a quick run elsewhere leaves the committed plots alone.
img_dir=docs/img/reproduction
[[ "$(realpath -m "$report")" == "$root/REPRODUCTION.md" ]] || img_dir=$(dirname "$report")/img
/usr/bin/python3 tools/reproduction_report.py --scale "$scale" --out "$report" \
  --img-dir "$img_dir" --plan "$(printf '%s' "$plan")" "$out"
echo "reproduce.sh: wrote $(realpath -m "$report")"
