#!/usr/bin/env bash
# pure16's test command: install dependencies, then configure, build and run every test
# twice — a Release build (tests, benchmarks, examples, install test, layering, MPI tests,
# example smoke runs) and an AddressSanitizer + UndefinedBehaviorSanitizer build of the test
# suites — then run each libFuzzer target for 30 s.
# The exit status is the truth: non-zero if anything fails.
#   scripts/test.sh              everything
#   PURE16_TEST_ONLY=release ... just one part (release | sanitize | fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PURE16_JOBS:-$(nproc)}
only=${PURE16_TEST_ONLY:-all}

scripts/deps.sh

echo "== style: clang-format"
mapfile -t sources < <(git ls-files '*.hpp' '*.cpp' 2>/dev/null || find include tests bench examples -name '*.[ch]pp')
clang-format --dry-run --Werror "${sources[@]}"

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

if [[ $only == all || $only == release ]]; then
  echo "== Release build"
  cmake -S . -B build/release "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
  cmake --build build/release -j "$jobs"
  (cd build/release && ctest --output-on-failure -j 1)
fi

if [[ $only == all || $only == sanitize ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
  # -O1 -g1: the sanitizer build is the slowest part of CI (about 14 of 22 minutes at
  # -O2 -g on 2 cores); line tables alone still give symbolized stack traces.
  cmake -S . -B build/sanitize "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DPURE16_SANITIZE=ON \
    -DPURE16_BUILD_BENCH=OFF -DPURE16_BUILD_EXAMPLES=OFF
  cmake --build build/sanitize -j "$jobs"
  (cd build/sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j 1)
fi
if [[ $only == all || $only == fuzz ]]; then
  echo "== libFuzzer targets (${PURE16_FUZZ_SECONDS:-30} s each)"
  scripts/fuzz.sh "${PURE16_FUZZ_SECONDS:-30}"
fi
echo "== all tests passed"
