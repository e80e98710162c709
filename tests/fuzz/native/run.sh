#!/usr/bin/env bash
# Runs each native libFuzzer target (fuzz_<name>.cpp) of a LAMINA_FUZZ build for SECONDS each
# (default 30), from the seeds of seeds.py; a finding (crash, sanitizer report, hang past 20 s,
# RSS past 3 GB, an exception that is not a lamina::Error) fails the run and its input is
# kept in build/fuzz/native-findings/<target>/.
# Usage: bash tests/fuzz/native/run.sh BUILD_DIR [seconds each] [target ...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=$1
each=${2:-30}
shift 2 || shift $#
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(net solver binary)
corpus=build/fuzz/native-corpus
python tests/fuzz/native/seeds.py "$corpus" >/dev/null
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/native-findings/$t" build/fuzz/logs
  log="build/fuzz/logs/native-$t.log"
  if ! "$build/tests/fuzz/native/fuzz_native_$t" -max_total_time="$each" -timeout=20 -rss_limit_mb=3072 \
       -print_final_stats=1 -artifact_prefix="build/fuzz/native-findings/$t/" "$corpus/$t" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz_native_$t: a finding (log: $log)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
  echo "fuzz_native_$t: $runs inputs in ${each} s, ${cov:-cov: n/a}, no findings"
done
