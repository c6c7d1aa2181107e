#!/usr/bin/env bash
# Build pure16's libFuzzer targets (tests/fuzz) with clang and run each for a while.
#   scripts/fuzz.sh [seconds]    seconds per target (default 60)
#   scripts/fuzz.sh --seeds      regenerate the checked-in seed corpus (tests/fuzz/corpus)
# Each target starts from its seed corpus (copied: the repository's corpus is not changed)
# with its dictionary, under AddressSanitizer + UndefinedBehaviorSanitizer. A crash, a leak,
# a timeout or memory beyond -rss_limit_mb is a finding: the reproducer is kept in
# build/fuzz/findings/<target>/ and the script exits non-zero. Prints executions and
# executions per second per target. Skips (exit 0, with a message) where clang or its
# fuzzer runtime is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=60
seeds_only=0
case "${1:-}" in
  --seeds) seeds_only=1 ;;
  "") ;;
  *) secs=$1 ;;
esac
targets=(fuzz_idx fuzz_cifar fuzz_safetensors fuzz_checkpoint)
declare -A corpus=([fuzz_idx]=idx [fuzz_cifar]=cifar [fuzz_safetensors]=safetensors
                   [fuzz_checkpoint]=checkpoint)

cxx=${PURE16_FUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: skipped: $cxx not found (scripts/deps.sh installs clang)"
  exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$probe/p.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1; then
  echo "fuzz: skipped: $cxx has no libFuzzer runtime (Debian: apt-get install libclang-rt-dev)"
  exit 0
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build/fuzz "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DPURE16_BUILD_FUZZ=ON -DPURE16_BUILD_TESTS=OFF -DPURE16_BUILD_BENCH=OFF \
  -DPURE16_BUILD_EXAMPLES=OFF >/dev/null
if ((seeds_only)); then
  cmake --build build/fuzz --target fuzz_make_seeds -j "${PURE16_JOBS:-2}"
  rm -rf tests/fuzz/corpus
  build/fuzz/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
  echo "fuzz: seed corpus written to tests/fuzz/corpus"
  exit 0
fi
cmake --build build/fuzz --target "${targets[@]}" -j "${PURE16_JOBS:-2}"

status=0
summary=()
for t in "${targets[@]}"; do
  c=${corpus[$t]}
  work=build/fuzz/run/$t
  rm -rf "$work"
  mkdir -p "$work/corpus" "build/fuzz/findings/$t"
  cp tests/fuzz/corpus/"$c"/* "$work/corpus/"
  dict=()
  [[ -f tests/fuzz/$c.dict ]] && dict=(-dict="$root/tests/fuzz/$c.dict")
  echo "== $t: $secs s"
  set +e
  ( cd "$work" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$root/build/fuzz/tests/fuzz/$t" corpus "${dict[@]}" -max_total_time="$secs" \
      -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$root/build/fuzz/findings/$t/" ) > "$work/log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || echo 0)
  if ((rc != 0)); then
    status=1
    echo "fuzz: $t FAILED (exit $rc); log: $work/log; reproducers: build/fuzz/findings/$t/"
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$work/log" | head -5 || true
  fi
  summary+=("$(printf '%-18s %12s execs %8s exec/s  %s' "$t" "$execs" "$rate" \
              "$([[ $rc == 0 ]] && echo ok || echo FAILED)")")
done
echo "== fuzz summary ($secs s per target)"
printf '%s\n' "${summary[@]}"
exit $status
