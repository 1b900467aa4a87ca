# The CNN of examples/fashion_cnn.nn end to end on a slice (one epoch of 640
# images): the object `nnc compile` writes, linked with libc and libm only
# into examples/deploy/classify.c, classifies the test set with the accuracy
# `nnc eval` reports for the same checkpoint, and its first predictions are
# the classes `nnc predict` prints.
source "$(dirname "$0")/lib.sh"
MODEL=fashion_cnn NNC="$NNC" bash "$ROOT/examples/deploy/build.sh" --epochs 1 --limit 640 >deploy.txt
got=$(sed -n 's/^accuracy \([0-9.]*\) .*/\1/p' deploy.txt)
want=$("$NNC" eval "$ROOT/examples/fashion_cnn.nn" --weights fashion_cnn.ckpt | sed -n 's/.*accuracy \([0-9.]*\) .*/\1/p')
[[ -n $got && $got == "$want" ]] || fail "classify accuracy '$got', nnc eval '$want'"
less 0.4 "$got" || fail "accuracy $got after one epoch on 640 images is implausibly low"
names=("T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot")
i=0
while read -r k; do
  grep -q "^image $i: ${names[$k]} " deploy.txt || fail "image $i: nnc predict says ${names[$k]}; classify: $(grep "^image $i:" deploy.txt)"
  i=$((i + 1))
done < <("$NNC" predict "$ROOT/examples/fashion_cnn.nn" --weights fashion_cnn.ckpt --input /usr/share/datasets/fashion-mnist/t10k --limit 5)
[[ $i == 5 ]] || fail "nnc predict printed $i classes, not 5"
echo "fashion_cnn object: accuracy $got = nnc eval, first predictions = nnc predict"
