#!/usr/bin/env bash
# run_fuzz.sh BUILD_DIR SECONDS [NAME...] — runs each libFuzzer harness built in
# BUILD_DIR/fuzz/ (FP_FUZZ=ON) for SECONDS with its dictionary, on a scratch copy of its
# committed corpus, then merges what found new coverage back into fuzz/corpus/<name>/
# (-merge=1: only inputs that add features are copied). Exits 1 when any harness crashed,
# leaked or timed out, printing the reproducer's path (kept in the scratch directory; copy
# it into the corpus as crash-<what> once the bug is fixed). Used by `make fuzz`.
set -euo pipefail

build=${1:?usage: run_fuzz.sh BUILD_DIR SECONDS [NAME...]}
secs=${2:?usage: run_fuzz.sh BUILD_DIR SECONDS [NAME...]}
shift 2
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$build" && pwd)"
if [ $# -eq 0 ]; then
  set --
  for src in "$here"/fuzz_*.c; do set -- "$@" "$(basename "$src" .c)"; done
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/fp-fuzz.XXXXXX")"
failed=()
for name in "$@"; do
  bin="$build/fuzz/$name"
  [ -x "$bin" ] || { echo "run_fuzz: $bin missing (configure with -DFP_FUZZ=ON)" >&2; exit 2; }
  corpus="$here/corpus/$name"
  work="$scratch/$name"
  mkdir -p "$work/corpus" "$work/artifacts" "$corpus"
  cp -p "$corpus"/. "$work/corpus/" -R
  dict=()
  [ -f "$here/dict/$name.dict" ] && dict=("-dict=$here/dict/$name.dict")
  echo "run_fuzz: $name for ${secs}s (log: $work/log)"
  rc=0
  (cd "$work" && TMPDIR="$work" "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "${dict[@]}" -artifact_prefix="$work/artifacts/" corpus \
      >"$work/log" 2>&1) || rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::average_exec_per_sec' \
    "$work/log" | sed "s/^/  $name: /" || true
  shopt -s nullglob
  found=("$work"/artifacts/*)
  shopt -u nullglob
  if [ "$rc" -ne 0 ] || [ ${#found[@]} -gt 0 ]; then
    echo "run_fuzz: $name FAILED (exit $rc); reproducer(s):" >&2
    for f in "${found[@]}"; do echo "  $f" >&2; done
    grep -m1 -A12 -E '^==[0-9]+==ERROR|^SUMMARY|deadly signal' "$work/log" >&2 || true
    failed+=("$name")
    continue
  fi
  # Merge new coverage back into the committed corpus.
  (cd "$work" && TMPDIR="$work" "$bin" -merge=1 -timeout=10 "$corpus" "$work/corpus" \
      >"$work/merge.log" 2>&1) || { echo "run_fuzz: $name: merge failed ($work/merge.log)" >&2;
                                    failed+=("$name"); continue; }
  echo "  $name: corpus now $(find "$corpus" -type f | wc -l) files"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run_fuzz: crashed: ${failed[*]} (scratch kept in $scratch)" >&2
  exit 1
fi
rm -rf "$scratch"
echo "run_fuzz: all harnesses ran ${secs}s without a crash"
