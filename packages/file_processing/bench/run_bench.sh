#!/usr/bin/env bash
# run_bench.sh — what `make bench` runs: throughput and peak memory of file-processing on a
# generated ~1 GiB Officer_Detail.csv, side by side with `wc -l` on the same file in the same
# run, plus a memory-growth check (peak RSS on a 256 MiB file vs the 1 GiB file).
#
# usage: run_bench.sh BUILD_DIR
#
# BUILD_DIR must hold fp-gen-officers and (unless FP_BENCH_CMD is set) file-processing.
# The inputs are generated once by fp-gen-officers (--seed 42, default defect rate) outside
# the repository and reused while their recorded size and generator fingerprint match.
#
# Measured, each the median of FP_BENCH_RUNS runs with a warm page cache, timed by GNU time
# (/usr/bin/time -f '%e %M', Debian package `time`):
#   wc -l FILE
#   CMD profile FILE --threads T --report TMPDIR/report.json   (exit 0 = valid, 1 = data
#                                                   invalid: fine), T = 1 and T = nproc
#   CMD profile FILE --threads T --contract contracts/officer_detail.yaml   (validation on)
#   CMD rows --count FILE                          (parse only; if `CMD rows --help` exits 0)
#
# Environment:
#   FP_BENCH_DIR    directory for the generated inputs (default /var/tmp/fp-bench)
#   FP_BENCH_CMD    command to benchmark instead of BUILD_DIR/file-processing, split on
#                   spaces; use it to benchmark another build or a stand-in, e.g.
#                     FP_BENCH_CMD=/path/to/other/build/file-processing make bench
#                     FP_BENCH_CMD="python3 /tmp/my_profiler.py" bash run_bench.sh build
#   FP_BENCH_RUNS   runs per measurement, median reported (default 3)
#   FP_BENCH_MAX_RSS_GROWTH
#                   fail when the job's peak RSS on 1 GiB exceeds this multiple of its peak
#                   on 256 MiB (default 1.5)
#   FP_BENCH_HUGE   1 = also generate a 4 GiB input (~4.1 GiB of disk) and check the peak
#                   RSS there instead of at 1 GiB
#
# The report goes to a scratch file so that writing it is part of the measured work.
#
# Peers, on the same 1 GiB file in the same run (each skipped, with the reason printed,
# when it is not installed; `make bench` installs them: Debian's miller, and
# bench/peers/package.json through npm):
#   DuckDB SUMMARIZE through @duckdb/node-api, 1 thread and all cores
#   Miller `summary`
#   Python's csv module with simple per-column counts (the original implementation's way)
# Peers run FP_BENCH_PEER_RUNS times (default 1: they are slow).
#
# Then bench/listener_bench.py: the SNS listener under wrk (64 connections) next to a bare
# libmicrohttpd server, req/s and p99.
#
# Exit status: 0 ok; 1 a benchmarked command failed (its stderr is printed) or memory grew
# with file size; 2 usage or missing prerequisites.
set -euo pipefail

PROG=run_bench.sh
usage_error() {
  echo "$PROG: $*" >&2
  echo "usage: $PROG BUILD_DIR   (see the header of this script for the environment)" >&2
  exit 2
}

[[ $# -eq 1 ]] || usage_error "expected exactly one argument, BUILD_DIR"
BUILD_DIR=$1
GEN=$BUILD_DIR/fp-gen-officers
BENCH_DIR=${FP_BENCH_DIR:-/var/tmp/fp-bench}
RUNS=${FP_BENCH_RUNS:-3}
MAX_GROWTH=${FP_BENCH_MAX_RSS_GROWTH:-1.5}
SEED=42
TIME=/usr/bin/time

if [[ -n ${FP_BENCH_CMD:-} ]]; then
  read -r -a CMD <<<"$FP_BENCH_CMD"
else
  CMD=("$BUILD_DIR/file-processing")
  [[ -x ${CMD[0]} ]] || usage_error "${CMD[0]} not found: build first (make build)"
fi
[[ -x $GEN ]] || usage_error "$GEN not found: build first (make build)"
[[ -x $TIME ]] || usage_error "$TIME not found: apt-get install -y time"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || usage_error "FP_BENCH_RUNS must be a positive integer"
[[ $MAX_GROWTH =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "FP_BENCH_MAX_RSS_GROWTH must be a number"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------------------ inputs

# A change in the generator's output changes this checksum, so stale inputs get rebuilt.
gen_fingerprint() {
  "$GEN" --rows 500 --seed "$SEED" --defects 0.05 | cksum | cut -d' ' -f1
}

# ensure_input FILE SIZE: generate FILE with --bytes SIZE unless an identical one is there.
# FILE.meta records the generator fingerprint, the arguments and the resulting byte size.
ensure_input() {
  local file=$1 size=$2 meta=$1.meta want have_size start end
  want="fingerprint=$(gen_fingerprint) args=--bytes $size --seed $SEED"
  if [[ -f $file && -f $meta ]] && [[ $(head -n 1 "$meta") == "$want" ]]; then
    have_size=$(stat -c %s "$file")
    if [[ $(sed -n 2p "$meta") == "size=$have_size" ]]; then
      echo "input: reusing $file ($have_size bytes)"
      return
    fi
  fi
  echo "input: generating $file (--bytes $size --seed $SEED) ..."
  rm -f "$file" "$meta"
  start=$(date +%s.%N)
  "$GEN" --bytes "$size" --seed "$SEED" -o "$file.tmp.$$"
  end=$(date +%s.%N)
  have_size=$(stat -c %s "$file.tmp.$$")
  mv "$file.tmp.$$" "$file"
  printf '%s\nsize=%s\n' "$want" "$have_size" >"$meta"
  awk -v b="$have_size" -v s="$start" -v e="$end" \
    'BEGIN { t = e - s; if (t < 0.001) t = 0.001;
             printf "input: %d bytes in %.2f s (%.0f MB/s)\n", b, t, b / 1e6 / t }'
}

mkdir -p "$BENCH_DIR"
avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
BIG=$BENCH_DIR/officers_1g.csv
SMALL=$BENCH_DIR/officers_256m.csv
if [[ ! -f $BIG || ! -f $SMALL ]] && ((avail_kb < 1500000)); then
  usage_error "need ~1.3 GiB free in $BENCH_DIR (set FP_BENCH_DIR elsewhere)"
fi
ensure_input "$BIG" 1G
ensure_input "$SMALL" 256M
HUGE=$BENCH_DIR/officers_4g.csv
if [[ ${FP_BENCH_HUGE:-0} == 1 ]]; then
  if [[ ! -f $HUGE ]] && ((avail_kb < 5500000)); then
    usage_error "FP_BENCH_HUGE=1 needs ~4.1 GiB more free in $BENCH_DIR"
  fi
  ensure_input "$HUGE" 4G
fi
echo "input: warming the page cache"
cat "$BIG" "$SMALL" >/dev/null

# ------------------------------------------------------------------------------ measuring

median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# measure OK_CODES CMD...: runs CMD (stdout discarded) RUNS times; sets M_WALL (seconds)
# and M_RSS (KB), medians. An exit status outside OK_CODES (space-separated) prints the
# command's stderr and ends the benchmark with status 1.
measure() {
  local ok=$1 i rc line walls=() rsss=()
  shift
  for ((i = 0; i < RUNS; i++)); do
    rc=0
    "$TIME" -f '%e %M' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/stderr" || rc=$?
    if [[ " $ok " != *" $rc "* ]]; then
      echo "$PROG: '$*' exited with status $rc; its stderr:" >&2
      tail -n 50 "$TMP/stderr" >&2
      [[ ${MEASURE_SOFT:-0} == 1 ]] && return 1
      exit 1
    fi
    line=$(tail -n 1 "$TMP/time") # GNU time may write a "non-zero status" line first
    walls+=("${line% *}")
    rsss+=("${line#* }")
  done
  M_WALL=$(median "${walls[@]}")
  M_RSS=$(median "${rsss[@]}")
}

BIG_BYTES=$(stat -c %s "$BIG")
NAME=$(basename "${CMD[0]}")
ROWS=()
row() { # row LABEL: appends the last measurement to the table
  ROWS+=("$1|$M_WALL|$M_RSS")
}

NCPU=$(nproc 2>/dev/null || echo 1)
echo "measuring: median of $RUNS runs each, ${CMD[*]}"
measure "0" wc -l "$BIG"
WC_WALL=$M_WALL
row "wc -l"
# One thread, then all cores (--threads; a build without the flag is measured once).
THREADS=(1)
if "${CMD[@]}" profile --help 2>/dev/null | grep -q -- --threads; then
  ((NCPU > 1)) && THREADS+=("$NCPU")
  tflag() { echo "--threads $1"; }
else
  echo "note: '${CMD[*]} profile' has no --threads: measuring its default only"
  tflag() { :; }
fi
CONTRACT="$(cd "$(dirname "$0")/.." && pwd)/contracts/officer_detail.yaml"
for t in "${THREADS[@]}"; do
  # shellcheck disable=SC2046 # tflag prints zero or two words on purpose
  measure "0 1" "${CMD[@]}" profile "$BIG" $(tflag "$t") --report "$TMP/report.json"
  row "$NAME profile, $t thread(s)"
  if [ -f "$CONTRACT" ]; then
    # shellcheck disable=SC2046
    measure "0 1" "${CMD[@]}" profile "$BIG" $(tflag "$t") --contract "$CONTRACT" \
      --report "$TMP/report.json"
    row "$NAME profile + contract, $t thread(s)"
  fi
done
if "${CMD[@]}" rows --help >/dev/null 2>&1; then
  measure "0" "${CMD[@]}" rows --count "$BIG"
  row "$NAME rows --count (parse only)"
else
  echo "note: '${CMD[*]} rows --help' failed: skipping the parse-only measurement"
fi
# Memory growth: the duplicate-row hash set is bounded by FP_DUP_ROWS_MEMORY (64 MiB by
# default) and fills as rows arrive, so it is held small here to show that everything
# else stays flat from 256 MiB to 1 GiB (and 4 GiB with FP_BENCH_HUGE=1), on all cores;
# the default-config peak is in the table above.
TMAX=${THREADS[${#THREADS[@]} - 1]}
# shellcheck disable=SC2046
measure "0 1" env FP_DUP_ROWS_MEMORY=4M "${CMD[@]}" profile "$SMALL" $(tflag "$TMAX") \
  --report "$TMP/report.json"
JOB_RSS_SMALL=$M_RSS
# shellcheck disable=SC2046
measure "0 1" env FP_DUP_ROWS_MEMORY=4M "${CMD[@]}" profile "$BIG" $(tflag "$TMAX") \
  --report "$TMP/report.json"
JOB_RSS_BIG=$M_RSS
JOB_RSS_HUGE=
if [[ ${FP_BENCH_HUGE:-0} == 1 ]]; then
  saved=$RUNS RUNS=1
  # shellcheck disable=SC2046
  measure "0 1" env FP_DUP_ROWS_MEMORY=4M "${CMD[@]}" profile "$HUGE" $(tflag "$TMAX") \
    --report "$TMP/report.json"
  JOB_RSS_HUGE=$M_RSS HUGE_WALL=$M_WALL RUNS=$saved
fi

# ------------------------------------------------------------------------------ peers

PEER_RUNS=${FP_BENCH_PEER_RUNS:-1}
[[ $PEER_RUNS =~ ^[1-9][0-9]*$ ]] || usage_error "FP_BENCH_PEER_RUNS must be a positive integer"
PEERS_DIR="$(cd "$(dirname "$0")" && pwd)/peers"
SKIPPED=()
peer() { # peer LABEL CMD...: one peer measurement, PEER_RUNS runs
  local label=$1 saved=$RUNS
  shift
  RUNS=$PEER_RUNS
  echo "measuring: $label"
  # A peer that fails is reported and skipped; only our own job's failures end the bench.
  if MEASURE_SOFT=1 measure "0" "$@"; then
    row "$label"
  else
    SKIPPED+=("$label (failed, see its stderr above)")
  fi
  RUNS=$saved
}
if command -v node >/dev/null 2>&1 && [[ -d $PEERS_DIR/node_modules/@duckdb/node-api ]]; then
  peer "duckdb SUMMARIZE, 1 thread" node "$PEERS_DIR/duckdb_summarize.mjs" "$BIG" 1
  peer "duckdb SUMMARIZE, $NCPU threads" node "$PEERS_DIR/duckdb_summarize.mjs" "$BIG" "$NCPU"
else
  SKIPPED+=("DuckDB (npm ci --prefix $PEERS_DIR, or make bench)")
fi
if command -v mlr >/dev/null 2>&1; then
  peer "miller summary" mlr --icsv --allow-ragged-csv-input --ojson summary "$BIG"
else
  SKIPPED+=("Miller (apt-get install miller, or make bench)")
fi
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3 || true)
if [[ -n $PYTHON ]]; then
  peer "python csv per-column counts" "$PYTHON" "$PEERS_DIR/py_csv_counts.py" "$BIG"
else
  SKIPPED+=("Python's csv module (no python3)")
fi

# ------------------------------------------------------------------------------ report

echo
printf 'file: %s (%s bytes)   host: %s CPUs, %s\n' "$BIG" "$BIG_BYTES" "$(nproc)" \
  "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
printf '%-44s %9s %9s %11s %13s\n' tool "wall s" "MB/s" "x wc -l" "peak RSS MB"
for r in "${ROWS[@]}"; do
  IFS='|' read -r label wall rss <<<"$r"
  awk -v l="$label" -v w="$wall" -v k="$rss" -v b="$BIG_BYTES" -v base="$WC_WALL" \
    'BEGIN { t = w < 0.01 ? 0.01 : w; bt = base < 0.01 ? 0.01 : base;
             printf "%-44s %9.2f %9.0f %11.2f %13.1f\n", l, w, b / 1e6 / t, t / bt, k / 1024 }'
done
echo "(x wc -l = wall time divided by wc -l's wall time; MB = 10^6 bytes for throughput)"
for sk in "${SKIPPED[@]}"; do echo "skipped: $sk"; done
echo

BIGGEST=$JOB_RSS_BIG BIGGEST_NAME="1 GiB"
if [[ -n $JOB_RSS_HUGE ]]; then
  BIGGEST=$JOB_RSS_HUGE BIGGEST_NAME="4 GiB"
  awk -v w="$HUGE_WALL" -v b="$(stat -c %s "$HUGE")" \
    'BEGIN { printf "4 GiB profile (FP_DUP_ROWS_MEMORY=4M): %.2f s, %.0f MB/s\n", w, b / 1e6 / w }'
fi
verdict=$(awk -v s="$JOB_RSS_SMALL" -v b="$BIGGEST" -v n="$BIGGEST_NAME" -v t="$TMAX" -v m="$MAX_GROWTH" \
  'BEGIN { r = s > 0 ? b / s : 0;
           printf "memory growth (FP_DUP_ROWS_MEMORY=4M, %s thread(s)): profile peak RSS %.1f MB at 256 MiB vs %.1f MB at %s" \
                  " (x%.2f, limit x%s): %s\n", t, s / 1024, b / 1024, n, r, m, r <= m ? "OK" : "GROWS" }')
echo "$verdict"
if [[ $verdict == *GROWS ]]; then
  echo "$PROG: peak memory grows with file size" >&2
  exit 1
fi

# The SNS listener under wrk load, next to a bare libmicrohttpd server (its ceiling).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" "$(dirname "$0")/listener_bench.py" "$BUILD_DIR"
