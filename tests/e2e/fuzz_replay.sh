# Replays every fuzz corpus (the seeds and every input that once crashed)
# through every harness, built with the sanitizers beside $NNC by make test,
# so a crash the fuzzers found and that was fixed stays fixed.
source "$(dirname "$0")/lib.sh"
bin=$(dirname "$NNC")
for replay in "$bin"/replay_*; do
  [[ -x $replay ]] || fail "no replay binaries beside $NNC (make test builds them)"
  "$replay" "$ROOT/tests/fuzz/corpus" "$ROOT/tests/fuzz/crashers" || fail "$(basename "$replay") failed"
done
