# examples/deploy: train briefly, compile with embedded weights, classify the
# Fashion-MNIST test set from the tiny C program; its accuracy must be the
# one `nnc eval` reports for the same checkpoint (same weights, same kernels).
source "$(dirname "$0")/lib.sh"
NNC="$NNC" bash "$ROOT/examples/deploy/build.sh" --epochs 1 --limit 3000 >deploy.txt
got=$(sed -n 's/^accuracy \([0-9.]*\) .*/\1/p' deploy.txt)
want=$("$NNC" eval "$ROOT/examples/fashion_mlp.nn" --weights fashion.ckpt | sed -n 's/.*accuracy \([0-9.]*\) .*/\1/p')
[[ -n $got && $got == "$want" ]] || fail "classify accuracy '$got', nnc eval '$want'"
less 0.6 "$got" || fail "accuracy $got after one epoch on 3000 images is implausibly low"
echo "deploy example: accuracy $got = nnc eval"
