#!/bin/sh
# Runs one libFuzzer harness for a bounded time (ctest's fuzz.* tests): new inputs go to a
# working corpus in the build directory, the committed seeds are only read.
#   run-fuzzer.sh FUZZER SECONDS SEED_DIR WORK_DIR [DICT]
set -eu
fuzzer=$1 seconds=$2 seeds=$3 work=$4 dict=${5:-}
mkdir -p "$work"
set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/../"
if [ -n "$dict" ]; then
    set -- "$@" -dict="$dict"
fi
exec "$fuzzer" "$@" "$work" "$seeds"
