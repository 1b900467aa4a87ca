# Shared helpers for the end-to-end tests (sourced).  $NNC is the nnc binary
# under test; each test runs in its own temporary directory.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NNC=${NNC:-$ROOT/nnc}
[[ $NNC = /* ]] || NNC=$ROOT/$NNC
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Time limits scale with E2E_SLOWDOWN (tests/valgrind.sh sets it: memcheck
# runs nnc tens of times slower): `bounded S CMD...` runs CMD for at most S
# seconds, and `ticks N` counts N polls of 0.1 s.
SLOW=${E2E_SLOWDOWN:-1}
bounded() {
  local s=$1
  shift
  timeout --foreground $((s * SLOW)) "$@"   # in the test's process group, so an interrupted run ends it
}
ticks() { seq $(($1 * SLOW)); }
# `appears FILE S PID` waits until process PID has written FILE (not empty),
# at most S seconds (scaled), and fails the test if it never does -- ending
# PID, which was to be interrupted once it got so far -- or if PID exits first.
appears() {
  for _ in $(ticks $(($2 * 10))); do
    [[ -s $1 ]] && return 0
    kill -0 "$3" 2>/dev/null || fail "process $3 exited before it wrote $1"
    sleep 0.1
  done
  kill -TERM "$3" 2>/dev/null
  fail "$1 was not written within $(($2 * SLOW)) s"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# json_field FILE FIELD: FIELD of the last JSON line of FILE
json_field() {
  tail -n 1 "$1" | sed -n "s/.*\"$2\": \([-0-9.e+naif]*\).*/\1/p"
}

# less A B: A < B as numbers
less() {
  awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# mpi_setup NAME: skips the test (exit 0) unless mpirun is installed and $NNC
# was built with MPI.  Then `mpi N ARGS...` runs N ranks on this machine (as
# root too, more ranks than cores allowed, shared memory only: no network),
# ended after 5 minutes should it hang.  Open MPI leaks process-wide tables:
# `mpi` runs the sanitized build without leak checks, `mpi_leakcheck` with
# them, its leaks suppressed by library (tests/lsan.supp), which takes its
# plugins kept loaded and full stacks (slow: for one small run).
mpi_setup() {
  if ! command -v mpirun >/dev/null; then
    echo "$1: skipped: no mpirun (apt-get install openmpi-bin libopenmpi-dev)"
    exit 0
  fi
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
  export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mca_base_component_disable_dlclose=1
  local probe
  probe=$(mpi 1 "$NNC" train /dev/null 2>&1 || true)   # fails either way: /dev/null is no model
  if [[ $probe == *"built without MPI"* ]]; then
    echo "$1: skipped: $NNC was built without MPI (make MPI=0)"
    exit 0
  fi
}

mpi() {
  local n=$1
  shift
  ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" bounded 300 mpirun -np "$n" "$@"
}

mpi_leakcheck() {
  local n=$1
  shift
  ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" bounded 300 mpirun -np "$n" "$@"
}
