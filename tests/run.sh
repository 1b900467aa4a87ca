#!/usr/bin/env bash
# Runs the check unit suites, then the golden tests, and prints one closing line
# "tests: N passed, N failed".  Usage: tests/run.sh UNIT_BINARY NNC_BINARY
set -u
unit=$1
nnc=$2
cd "$(dirname "$0")/.."
# check's per-test timeouts are for hangs, not for a machine shared with other
# builds: under a load of several runnable processes per core, sanitized tests
# that take a second of CPU take many seconds of wall time.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

pass=0
fail=0

log=$(mktemp)
# every compile of the run goes to a cache of its own, never the user's
export XDG_CACHE_HOME=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$XDG_CACHE_HOME"' EXIT
"$unit" 2>&1 | tee "$log"
line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
  n=${BASH_REMATCH[1]}
  bad=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
  pass=$((pass + n - bad))
  fail=$((fail + bad))
else
  echo "unit tests: no summary line (crashed?)"
  fail=$((fail + 1))
fi

gold_out=$(bash tests/golden/run.sh "$nnc")
gold_rc=$?
echo "$gold_out"
if [[ $(tail -n 1 <<<"$gold_out") =~ golden:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  pass=$((pass + BASH_REMATCH[1]))
  fail=$((fail + BASH_REMATCH[2]))
elif ((gold_rc != 0)); then
  fail=$((fail + 1))
fi

for script in tests/e2e/*.sh; do
  [[ $(basename "$script") == lib.sh ]] && continue
  [[ -e $script ]] || continue
  if out=$(NNC="$nnc" bash "$script" 2>&1); then
    echo "e2e $(basename "$script"): ok"
    pass=$((pass + 1))
  else
    echo "e2e $(basename "$script"): FAILED"
    echo "$out" | tail -n 30
    fail=$((fail + 1))
  fi
done

echo "tests: $pass passed, $fail failed"
((fail == 0))
