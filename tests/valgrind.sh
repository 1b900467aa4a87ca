#!/usr/bin/env bash
# make valgrind: every end-to-end test with the release build run under
# valgrind's memcheck.  Any memory error or definite leak makes nnc exit 99,
# which fails the test that ran it.  fashion_full.sh (ten epochs of 60,000
# images) is left out: hours under valgrind; fashion_slice.sh covers the same
# code on a slice.  Usage: tests/valgrind.sh [SCRIPT...]
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
