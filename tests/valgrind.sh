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
cat >"$wrap/nnc" <<WRAP
#!/bin/sh
exec valgrind -q --keep-debuginfo=yes --smc-check=all-non-file --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
  --suppressions=$PWD/tests/valgrind.supp $PWD/nnc "\$@"
WRAP
chmod +x "$wrap/nnc"
export E2E_SLOWDOWN=40   # the tests' time limits (tests/e2e/lib.sh), for memcheck's pace
scripts=("$@")
((${#scripts[@]})) || scripts=(tests/e2e/*.sh)
pass=0
fail=0
for script in "${scripts[@]}"; do
  case $(basename "$script") in lib.sh | fashion_full.sh | fuzz_replay.sh) continue ;; esac
  if out=$(NNC="$wrap/nnc" bash "$script" 2>&1); then
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
