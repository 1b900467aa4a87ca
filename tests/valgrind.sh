#!/usr/bin/env bash
# make valgrind: every end-to-end test with the release build run under
# valgrind's memcheck.  Any memory error or definite leak makes nnc exit 99,
# which fails the test that ran it.  fashion_full.sh (ten epochs of 60,000
# images) is left out: hours under valgrind; fashion_slice.sh covers the same
# code on a slice.  Usage: tests/valgrind.sh [SCRIPT...]
#
# Under memcheck nnc compiles for the CPU valgrind presents, never for
# AVX-512: valgrind 3.19 answers CPUID with one fixed Haswell (GenuineIntel,
# signature 000306c3: AVX2 and FMA, no AVX-512) on every host, Intel or AMD,
# so LLVM names the host "haswell" with -avx512f and `valgrind nnc target`
# says avx2.  Compile-cache keys hold the CPU and the features, so objects a
# native run compiled for AVX-512 are never loaded under valgrind (the two
# keep separate entries).  memcheck is slow on nnc's vector kernels: about
# 30 training samples of fashion_mlp a second, and 50 s of LLVM per compile
# (native: a fraction of a second for both).
set -u
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)"; exit 1; }
wrap=$(mktemp -d)
trap 'rm -rf "$wrap"' EXIT
# a copy of nnc: a rebuild during the (long) run does not change what is tested
cp nnc "$wrap/nnc.under-test"
cat >"$wrap/nnc" <<WRAP
#!/bin/sh
exec valgrind -q --keep-debuginfo=yes --smc-check=all-non-file --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
  --suppressions=$PWD/tests/valgrind.supp $wrap/nnc.under-test "\$@"
WRAP
chmod +x "$wrap/nnc"
export E2E_SLOWDOWN=40   # the tests' time limits (tests/e2e/lib.sh), for memcheck's pace
# Without arguments the MPI scripts give way to one short run of 2 ranks
# under memcheck (mpi_ranks below): mpi_train.sh alone is more than an hour
# of memcheck's time.  Named, they run like any other.
scripts=("$@")
((${#scripts[@]})) || scripts=(tests/e2e/*.sh mpi_ranks)
pass=0
fail=0

# 2 ranks of xor, each under memcheck (the exchange, the sharded update, the
# rank 0 checkpoint), when mpirun is installed.
mpi_ranks() {
  command -v mpirun >/dev/null || { echo "no mpirun: skipped"; return 0; }
  local dir
  dir=$(mktemp -d) || return 1
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
    OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -np 2 "$wrap/nnc" train examples/xor.nn --epochs 5 --quiet \
    --save "$dir/xor.ckpt"
  local status=$?
  rm -rf "$dir"
  return $status
}

for script in "${scripts[@]}"; do
  case $(basename "$script") in lib.sh | fashion_full.sh | fuzz_replay.sh) continue ;; esac
  [[ $# == 0 && $(basename "$script") == mpi_*.sh ]] && continue
  if [[ $script == mpi_ranks ]]; then run=(mpi_ranks); else run=(bash "$script"); fi
  if out=$(NNC="$wrap/nnc" "${run[@]}" 2>&1); then
    echo "valgrind $(basename "$script"): ok"
    pass=$((pass + 1))
  else
    echo "valgrind $(basename "$script"): FAILED"
    echo "$out" | tail -n 40
    fail=$((fail + 1))
  fi
done
echo "valgrind: $pass passed, $fail failed"
((fail == 0))
