#!/usr/bin/env bash
# Runs the integration suite RUNS times in a row (default 10) in a build directory, with a CPU
# burner taking one of the machine's cores the whole time, because a test that fails once in ten
# runs is a defect to find. Not part of CI (it takes long).
#
#   tests/integration-loop.sh build-test [RUNS]
#   tests/integration-loop.sh build-asan 10
#
# Prints one line per run and a summary; keeps the log of every failed run in BUILD/loop-logs/.
# The burner is stress-ng --cpu 1 when it is installed (apt-get install stress-ng), else a
# busy shell loop.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: $0 BUILD_DIR [RUNS]}"
runs="${2:-10}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
[ -f "$build/CTestTestfile.cmake" ] || { echo "$build is not a configured build directory" >&2; exit 2; }
logs="$build/loop-logs"
mkdir -p "$logs"

if command -v stress-ng >/dev/null; then
  stress-ng --cpu 1 --quiet &
else
  (while :; do :; done) &
fi
burner=$!
trap 'kill "$burner" 2>/dev/null || true' EXIT

passed=0
started=$(date +%s)
for i in $(seq 1 "$runs"); do
  t0=$(date +%s)
  if (cd "$build" && ctest -L integration -j "$(nproc)" --output-on-failure) >"$logs/run-$i.log" 2>&1; then
    passed=$((passed + 1))
    echo "run $i: passed in $(($(date +%s) - t0)) s"
    rm -f "$logs/run-$i.log"
  else
    echo "run $i: FAILED in $(($(date +%s) - t0)) s: $(grep -E '^\s+[0-9]+ - ' "$logs/run-$i.log" | tr -s ' ' | tr '\n' ';') log $logs/run-$i.log"
  fi
done
echo "$passed of $runs runs passed; $(($(date +%s) - started)) s in all, with a CPU burner on one core"
[ "$passed" -eq "$runs" ]
