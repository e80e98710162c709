#!/usr/bin/env bash
# Runs every fuzz target in turn for SECONDS_EACH seconds (default 300), restarting a target
# after a finding until its time is up; findings go to build/fuzz/findings/<target>/, logs to
# build/fuzz/logs/, and the summary line per target (inputs run, coverage) to stdout.
# Usage: bash tests/fuzz/campaign.sh [seconds each] [target ...]
set -uo pipefail
cd "$(dirname "$0")/../.."
each=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(net solver safetensors solver_state caffe_binary data_readers ops)
mkdir -p build/fuzz/logs
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/findings/$t"
  end=$(( $(date +%s) + each )); runs=0; finds=0; part=0
  while [ "$(date +%s)" -lt "$end" ]; do
    left=$(( end - $(date +%s) )); part=$((part + 1)); log="build/fuzz/logs/$t.$part.log"
    python "tests/fuzz/fuzz_$t.py" -max_total_time="$left" -print_final_stats=1 \
      -artifact_prefix="build/fuzz/findings/$t/" "build/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' |
        tail -1)
    [ -z "$n" ] && n=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    runs=$(( runs + ${n:-0} ))
    [ $rc -ne 0 ] && finds=$((finds + 1))
  done
  cov=$(grep -ho 'cov: [0-9]* ft: [0-9]*' build/fuzz/logs/"$t".*.log | tail -1)
  echo "$t: ${runs} inputs, ${finds} findings, ${cov:-cov: n/a} ($part runs)"
done
