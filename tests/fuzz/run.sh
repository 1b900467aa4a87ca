#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time on a working copy of its
# corpus (the seeds in corpus/NAME, every input that once crashed in
# crashers/NAME, and what earlier runs found in build/fuzz/corpus-NAME), and
# prints one line per harness (executions, coverage, crashes) and a closing
# "fuzz: N passed, N failed".  A crash, leak, timeout or memory blow-up
# leaves its input in build/fuzz/NAME-KIND-*; copy it to crashers/NAME once
# it is fixed, so `make test` replays it for ever.
#   tests/fuzz/run.sh SECONDS NAME...
# FUZZ_FINDINGS=report (CI) fails only on a crash while the harness loads
# its committed corpus, which is the same on every run; a crash found by
# fuzzing afterwards depends on the run's luck, so it is reported with its
# input (base64) but does not fail.  The default, fail, fails on any crash.
set -u
seconds=$1
shift
cd "$(dirname "$0")/../.."
fuzz=build/fuzz
status=0
pass=0
found=0
for name in "$@"; do
  work=$fuzz/corpus-$name
  mkdir -p "$work"
  dict=()
  [[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")
  # git keeps no empty directory: a harness with no crasher yet has none.
  seeds=()
  for dir in "tests/fuzz/corpus/$name" "tests/fuzz/crashers/$name"; do
    [[ -d $dir ]] && seeds+=("$dir")
  done
  log=$fuzz/$name.log
  touch "$fuzz/.start-$name"   # what this run finds is newer than this
  "$fuzz/fuzz_$name" "$work" "${seeds[@]}" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$fuzz/$name-" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  inputs=$(find "$fuzz" -maxdepth 1 -type f -name "$name-*-*" -newer "$fuzz/.start-$name")
  crashes=$(grep -c . <<<"$inputs")
  if ((rc == 0)); then
    pass=$((pass + 1))
  else
    crashes=$((crashes > 0 ? crashes : 1))
    grep -m 20 -E 'ERROR|runtime error|fuzz:|SUMMARY|Test unit written' "$log"
    if [[ ${FUZZ_FINDINGS:-fail} == report ]] && grep -q INITED "$log" && [[ -n $inputs ]]; then
      pass=$((pass + 1))
      found=$((found + crashes))
      for f in $inputs; do
        echo "new crash input $f ($(stat -c %s "$f") bytes), base64:"
        head -c 4096 "$f" | base64 -w 0
        echo
      done
    else
      status=1
    fi
  fi
  echo "fuzz $name: ${runs:-0} executions in ${seconds} s, ${cov:-no coverage}, $crashes crashes"
done
((found == 0)) || echo "fuzz: $found new crashes found by fuzzing (reported above, not a failure of this run)"
echo "fuzz: $pass passed, $(($# - pass)) failed"
exit $status
