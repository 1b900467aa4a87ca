# Replays every fuzz corpus (the seeds and every input that once crashed)
# through every harness, built with the sanitizers beside $NNC by make test,
# so a crash the fuzzers found and that was fixed stays fixed.  An allocation
# above libFuzzer's memory limit (make fuzz: 4096 MB) fails here as it does
# there, so a reader that believes a size its file cannot hold is caught.
source "$(dirname "$0")/lib.sh"
bin=$(dirname "$NNC")
for replay in "$bin"/replay_*; do
  [[ -x $replay ]] || fail "no replay binaries beside $NNC (make test builds them)"
  ASAN_OPTIONS="max_allocation_size_mb=4096:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    "$replay" "$ROOT/tests/fuzz/corpus" "$ROOT/tests/fuzz/crashers" || fail "$(basename "$replay") failed"
done
