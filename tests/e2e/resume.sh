# Interrupting and resuming gives the same numbers as an uninterrupted run:
# 4 epochs straight vs 2 epochs, checkpoint, --resume to 4.  The model has
# dropout, batch norm and Adam, so every piece of state must round-trip.
# The resumed run adds to the log of the run it continues (no --log-append).
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/fashion_features.nn
common=(--limit 600 --batch 50 --quiet)
"$NNC" train "$model" "${common[@]}" --epochs 4 --log straight.json --save straight.ckpt >/dev/null
"$NNC" train "$model" "${common[@]}" --epochs 2 --log resumed.json --save half.ckpt >/dev/null
"$NNC" train "$model" "${common[@]}" --epochs 4 --log resumed.json --resume half.ckpt --save resumed.ckpt >/dev/null
strip() { grep '^{"epoch"' "$1" | sed 's/, "seconds".*//'; }
diff <(strip straight.json) <(strip resumed.json) || fail "resumed run differs from the straight run"
cmp straight.ckpt resumed.ckpt || fail "final checkpoints differ"
echo "resumed run identical over $(wc -l <straight.json) epochs"
