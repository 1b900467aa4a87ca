# XOR (2-4-1) trains to a loss below 0.01.
source "$(dirname "$0")/lib.sh"
"$NNC" train "$ROOT/examples/xor.nn" --quiet --log log.json
loss=$(json_field log.json train_loss)
less "$loss" 0.01 || fail "xor final loss $loss is not below 0.01"
echo "xor final loss $loss"
