# The CNN of examples/fashion_cnn.nn end to end on a slice (one epoch of 640
# images): the object `nnc compile` writes, linked with libc and libm only
# into examples/deploy/classify.c, classifies the test set with the accuracy
# `nnc eval` reports for the same checkpoint, and its first predictions are
# the classes `nnc predict` prints.
source "$(dirname "$0")/lib.sh"
model=$ROOT/examples/fashion_cnn.nn
deploy=$ROOT/examples/deploy/build.sh
data=/usr/share/datasets/fashion-mnist
if ((SLOW > 1)); then
  # Under memcheck (tests/valgrind.sh) each image through the CNN takes
  # memcheck a good fraction of a second, so the test set is its first 100
  # images, for nnc (a copy of the model and of the example, which finds the
  # model beside it) and for the classifier alike.
  mkdir -p ex/deploy slice
  cp "$ROOT/examples/deploy/build.sh" "$ROOT/examples/deploy/classify.c" ex/deploy/
  sed "s|\"$data/t10k\"|\"$PWD/slice/t10k\"|" "$model" >ex/fashion_cnn.nn
  grep -q "$PWD/slice/t10k" ex/fashion_cnn.nn || fail "the model's test set is not $data/t10k"
  # the first n records of an IDX file of the test set, its count rewritten
  slice() {
    local name=$1 header=$2 record=$3 n=100
    gunzip -c "$data/$name.gz" >full
    {
      dd if=full bs=4 count=1 status=none
      printf "$(printf '\\x%02x' $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))"
      dd if=full iflag=skip_bytes,count_bytes skip=8 count=$((header - 8 + n * record)) bs=65536 status=none
    } >"slice/$name"
  }
  slice t10k-images-idx3-ubyte 16 784
  slice t10k-labels-idx1-ubyte 8 1
  model=$PWD/ex/fashion_cnn.nn deploy=ex/deploy/build.sh data=$PWD/slice
fi
MODEL=fashion_cnn NNC="$NNC" DATA="$data" bash "$deploy" --epochs 1 --limit 640 >deploy.txt
got=$(sed -n 's/^accuracy \([0-9.]*\) .*/\1/p' deploy.txt)
want=$("$NNC" eval "$model" --weights fashion_cnn.ckpt | sed -n 's/.*accuracy \([0-9.]*\) .*/\1/p')
[[ -n $got && $got == "$want" ]] || fail "classify accuracy '$got', nnc eval '$want'"
less 0.4 "$got" || fail "accuracy $got after one epoch on 640 images is implausibly low"
names=("T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot")
i=0
while read -r k; do
  grep -q "^image $i: ${names[$k]} " deploy.txt || fail "image $i: nnc predict says ${names[$k]}; classify: $(grep "^image $i:" deploy.txt)"
  i=$((i + 1))
done < <("$NNC" predict "$model" --weights fashion_cnn.ckpt --input "$data/t10k" --limit 5)
[[ $i == 5 ]] || fail "nnc predict printed $i classes, not 5"
echo "fashion_cnn object: accuracy $got = nnc eval, first predictions = nnc predict"
