#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time on a copy of its seed corpus,
# as CTest's fuzz_<target> tests do (tests/CMakeLists.txt). The copy lives
# under WORK_DIR in the build tree, so new inputs never land in the
# repository; a crashing input is saved as WORK_DIR/findings/crash-<sha1>
# and the script fails, printing how to reproduce it.
#
#   run_fuzzer.sh FUZZER SEED_CORPUS DICT WORK_DIR SECONDS
#
# DICT may be "" (no dictionary). Exit status: libFuzzer's (0 = nothing
# found).
set -euo pipefail
if [ $# -ne 5 ]; then
  echo "usage: $0 FUZZER SEED_CORPUS DICT WORK_DIR SECONDS" >&2
  exit 2
fi
fuzzer=$1 seeds=$2 dict=$3 work=$4 seconds=$5

rm -rf "$work"
mkdir -p "$work/corpus" "$work/findings"
cp "$seeds"/* "$work/corpus/"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 -artifact_prefix="$work/findings/")
[ -n "$dict" ] && args+=(-dict="$dict")

status=0
"$fuzzer" "${args[@]}" "$work/corpus" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run_fuzzer.sh: $(basename "$fuzzer") found a problem; inputs in $work/findings:" >&2
  ls -l "$work/findings" >&2 || true
  for f in "$work/findings"/*; do
    [ -e "$f" ] && echo "  reproduce: $fuzzer $f" >&2
  done
fi
exit "$status"
