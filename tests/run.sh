#!/usr/bin/env bash
# Runs every unit suite, the golden tests and every end-to-end script, each
# as a job of its own, NNC_TEST_JOBS at a time (default: the CPUs this process
# may use), the longest first.  Prints one line per job as it ends, the
# output of each failed job, and one closing line "tests: N passed, N failed"
# (every unit test and golden case counts, and every e2e script).  Given a
# third binary (the release ./nnc, linked another way), the golden tests run
# on it too.
# Usage: tests/run.sh UNIT_BINARY NNC_BINARY [RELEASE_NNC_BINARY]
set -u
unit=$(realpath "$1")
nnc=$(realpath "$2")
release=${3:+$(realpath "$3")}
cd "$(dirname "$0")/.."
# check's per-test timeouts are for hangs, not for a machine shared with other
# builds: under a load of several runnable processes per core, sanitized tests
# that take a second of CPU take many seconds of wall time.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# every compile of the run goes to a cache of its own, never the user's
XDG_CACHE_HOME=$(mktemp -d)
export XDG_CACHE_HOME
logs=$(mktemp -d)
keep=0   # set by a failed job: its whole output stays in $logs
cleanup() {
  rm -rf "$XDG_CACHE_HOME"
  if ((keep)); then echo "tests: each job's whole output is in $logs"; else rm -rf "$logs"; fi
}
trap cleanup EXIT
width=${NNC_TEST_JOBS:-$(nproc)}
[[ $width =~ ^[1-9][0-9]*$ ]] || { echo "tests: NNC_TEST_JOBS must be a positive number, not '$width'"; exit 2; }
# Each job runs in a process group of its own (job control on), so that an
# interrupt or a kill of this script ends every job it started.
set -m

# Jobs are "unit:SUITE", "golden", "golden:release" and "e2e:SCRIPT".  These take longest
# (about a minute each under the sanitizers), so they start first and the
# short ones fill in beside them.
first=(unit:examples unit:codegen e2e:mpi_train.sh golden unit:conv e2e:split_step.sh e2e:mpi_faults.sh)
suites=$("$unit" --list) && [[ -n $suites ]] || { echo "tests: $unit --list failed"; exit 1; }
jobs=(golden)
[[ -z $release ]] || jobs+=(golden:release)
for s in $suites; do jobs+=("unit:$s"); done
for script in tests/e2e/*.sh; do
  [[ $(basename "$script") == lib.sh ]] || jobs+=("e2e:$(basename "$script")")
done
declare -A known
for j in "${jobs[@]}"; do known[$j]=1; done
queue=()
for j in "${first[@]}"; do [[ -z ${known[$j]:-} ]] || { queue+=("$j"); known[$j]=queued; }; done
for j in "${jobs[@]}"; do [[ ${known[$j]} == queued ]] || queue+=("$j"); done

run_job() {
  case $1 in
    unit:*) CK_RUN_SUITE=${1#unit:} "$unit" ;;
    golden) bash tests/golden/run.sh "$nnc" ;;
    golden:release) bash tests/golden/run.sh "$release" ;;
    e2e:*) NNC=$nnc bash "tests/e2e/${1#e2e:}" ;;
  esac
}

pass=0
fail=0
declare -A started byPid   # job -> its start; process group -> job, while running
# tally JOB STATUS: adds the job's tests to the totals and prints its line
tally() {
  local job=$1 status=$2 log=$logs/${1//\//_} took=$((SECONDS - ${started[$1]}))
  local n=1 bad=$((status != 0)) line
  case $job in
    unit:*)   # no summary, or no test run, is a failure
      bad=1
      line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -n 1)
      if [[ $line =~ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]] && ((BASH_REMATCH[1] > 0)); then
        n=${BASH_REMATCH[1]}
        bad=$((BASH_REMATCH[2] + BASH_REMATCH[3]))
        ((status == 0 || bad > 0)) || bad=1
      fi ;;
    golden*)
      if [[ $(tail -n 1 "$log") =~ golden:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        n=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
        bad=${BASH_REMATCH[2]}
        ((status == 0 || bad > 0)) || bad=1
      fi ;;
  esac
  pass=$((pass + n - bad))
  fail=$((fail + bad))
  if ((bad == 0)); then
    echo "$job: ok ($n, ${took} s)"
  else
    echo "$job: FAILED ($bad of $n, ${took} s)"
    tail -n 60 "$log"
    keep=1
  fi
}

# Interrupted or killed: end every job's process group, then stop.
stop() {
  set +m   # no job notices
  for pid in "${!byPid[@]}"; do kill -TERM -- -"$pid" 2>/dev/null; done
  wait   # before the cache they write into is removed
  echo "tests: stopped"
  exit 130
}
trap stop INT TERM HUP

next=0
running=0
while ((next < ${#queue[@]} || running > 0)); do
  while ((running < width && next < ${#queue[@]})); do
    job=${queue[next]}
    next=$((next + 1))
    started[$job]=$SECONDS
    run_job "$job" </dev/null >"$logs/${job//\//_}" 2>&1 &
    byPid[$!]=$job
    running=$((running + 1))
  done
  wait -n -p done_pid
  status=$?
  running=$((running - 1))
  tally "${byPid[$done_pid]}" "$status"
  unset "byPid[$done_pid]"
done

echo "tests: $pass passed, $fail failed"
((fail == 0))
