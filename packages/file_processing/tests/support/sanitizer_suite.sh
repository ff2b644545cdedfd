#!/usr/bin/env bash
# sanitizer_suite.sh — the whole test suite again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer, as one test of the main suite (so `make test` runs it and CTest
# still prints one summary line). Any sanitizer report aborts the test that hit it
# (abort_on_error, halt_on_error), which fails this test with the inner CTest's output.
#
# Usage: sanitizer_suite.sh SOURCE_DIR BUILD_DIR
# The container image test is left out (it builds a release image, nothing to sanitize).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
src="$1"
bld="$2"
jobs="$(nproc 2>/dev/null || echo 2)"

echo "sanitizer suite: configuring $bld (FP_SANITIZE=ON)"
cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Debug -DFP_SANITIZE=ON >/dev/null
echo "sanitizer suite: building"
cmake --build "$bld" -j"$jobs" >"$bld.build.log" 2>&1 || {
  tail -n 60 "$bld.build.log" >&2
  echo "sanitizer suite: build failed (log: $bld.build.log)" >&2
  exit 1
}
cd "$bld"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
echo "sanitizer suite: running ctest"
ctest --output-on-failure -j"$jobs" -E '^image/'
