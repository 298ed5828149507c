#!/usr/bin/env bash
# Long fuzzing runs: every libFuzzer target of tests/fuzz (request_fuzzer,
# bundle_fuzzer, artifact_fuzzer) for SECONDS each, one after the other,
# with libFuzzer's fork mode over JOBS processes. CTest runs each target for
# only 15 s (fuzz_<target>); this is the run that looks deeper.
#
#   bash bench/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 600). Environment:
# BUILD_DIR (default build; the targets come from BUILD_DIR-asan, built
# first by `bash deploy/dev.sh asan` when missing), JOBS (default: the
# number of cores), FINDINGS_DIR (default BUILD_DIR-asan/fuzz-findings).
#
# Each target's growing corpus is kept in BUILD_DIR-asan/fuzz-corpus/TARGET
# (seeded from tests/fuzz/corpus/TARGET; the repository is never written
# to), crashing, leaking, slow and out-of-memory inputs in
# FINDINGS_DIR/TARGET/, and libFuzzer's log in FINDINGS_DIR/TARGET.log.
# The script prints, per target, how long it ran, the executions, the
# coverage and what was found, and exits 1 if anything was found.
# Reproduce a finding with: BUILD_DIR-asan/tests/fuzz/TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
targets=()
for arg in "$@"; do
  case $arg in
    [0-9]*) seconds=$arg ;;
    request_fuzzer | bundle_fuzzer | artifact_fuzzer) targets+=("$arg") ;;
    *)
      echo "usage: bash bench/fuzz.sh [SECONDS] [request_fuzzer|bundle_fuzzer|artifact_fuzzer ...]" >&2
      exit 2
      ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(request_fuzzer bundle_fuzzer artifact_fuzzer)
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
asan_dir="$BUILD_DIR-asan"
case $asan_dir in /*) ;; *) asan_dir="$PWD/$asan_dir" ;; esac
FINDINGS_DIR=${FINDINGS_DIR:-$asan_dir/fuzz-findings}

missing=0
for t in "${targets[@]}"; do
  [ -x "$asan_dir/tests/fuzz/$t" ] || missing=1
done
if [ "$missing" -eq 1 ]; then
  echo "fuzz.sh: building the sanitizer tree ($asan_dir)" >&2
  bash deploy/dev.sh asan
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

summary=()
new_files=()
for t in "${targets[@]}"; do
  bin="$asan_dir/tests/fuzz/$t"
  corpus="$asan_dir/fuzz-corpus/$t"
  findings="$FINDINGS_DIR/$t"
  log="$FINDINGS_DIR/$t.log"
  mkdir -p "$corpus" "$findings"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  before=$(find "$findings" -type f | sort)
  echo "fuzz.sh: $t for ${seconds}s on $JOBS job(s); log $log" >&2
  start=$(date +%s)
  # Fork mode: the parent keeps the corpus and restarts a worker after a
  # crash, so one finding does not end the run; every finding is saved.
  nice -n 10 "$bin" -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 \
    -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -dict="tests/fuzz/$t.dict" \
    -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1 || true
  elapsed=$(( $(date +%s) - start ))
  mapfile -t fresh < <(comm -13 <(echo "$before") \
    <(find "$findings" -type f | sort) | grep -v '^$' || true)
  # The fork-mode parent's last status line: "#N: cov: C ft: F corp: K ..."
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
  runs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  failures=$(sed -nE 's|.*oom/timeout/crash: ([0-9/]+).*|\1|p' <<<"$last")
  new=${#fresh[@]}
  [ "$new" -gt 0 ] && new_files+=("${fresh[@]}")
  summary+=("$(printf '%-16s %6ss %12s %7s %8s %7s %16s %6s' \
    "$t" "$elapsed" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "${failures:-?}" "$new")")
done

echo
printf '%-16s %7s %12s %7s %8s %7s %16s %6s\n' target time runs cov features corpus oom/timeout/crash new
for line in "${summary[@]}"; do echo "$line"; done
echo "findings: $FINDINGS_DIR"
if [ ${#new_files[@]} -gt 0 ]; then
  echo "new findings (reproduce: $asan_dir/tests/fuzz/TARGET FILE):"
  printf '  %s\n' "${new_files[@]}"
  exit 1
fi
