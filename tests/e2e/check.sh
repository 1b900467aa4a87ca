# `nnc check` passes on every example (the printed error sizes are rounding
# noise, so only the verdict is compared).
source "$(dirname "$0")/lib.sh"
for f in "$ROOT"/examples/*.nn; do
  out=$("$NNC" check "$f") || fail "nnc check $(basename "$f") failed: $out"
  tail -n 1 <<<"$out" | grep -qx PASS || fail "nnc check $(basename "$f") did not pass: $out"
done
echo "every example passes the gradient check"
