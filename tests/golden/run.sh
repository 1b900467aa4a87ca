#!/usr/bin/env bash
# Golden tests: each tests/golden/**/NAME.cmd holds one line of nnc arguments; the
# expected stdout+stderr and exit status are in NAME.out, whose last line is
# "[exit N]".  Commands run from the repository root, so file names in the
# output are repository paths.
#   tests/golden/run.sh NNC             run all, print "golden: N passed, N failed"
#   tests/golden/run.sh NNC --update    rewrite every NAME.out from the current nnc
set -u
nnc=$(realpath "$1")
update=${2:-}
cd "$(dirname "$0")/../.."
pass=0
fail=0
while IFS= read -r cmd; do
  want=${cmd%.cmd}.out
  read -r -a args <"$cmd"
  got=$( (timeout --foreground 60 "$nnc" "${args[@]}" 2>&1; echo "[exit $?]") )
  if [[ $update == --update ]]; then
    printf '%s\n' "$got" >"$want"
    continue
  fi
  if [[ -f $want ]] && diff -u "$want" <(printf '%s\n' "$got") >/tmp/golden.diff.$$; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "golden FAILED: $cmd (nnc ${args[*]})"
    [[ -f $want ]] && head -n 40 /tmp/golden.diff.$$ || echo "  missing $want"
  fi
done < <(find tests/golden -name '*.cmd' | LC_ALL=C sort)
rm -f /tmp/golden.diff.$$
echo "golden: $pass passed, $fail failed"
((fail == 0))
