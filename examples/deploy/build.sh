#!/usr/bin/env bash
# Deployment example, end to end, in the current directory:
#   1. nnc train ../fashion_mlp.nn --save fashion.ckpt   (extra arguments go to
#      nnc train, e.g. --epochs 1 --limit 6000 for a quick run)
#   2. nnc compile with the weights embedded -> fashion_mlp.o + fashion_mlp.h
#   3. cc classify.c fashion_mlp.o -lm       (no nnc, LLVM or runtime library)
#   4. ./classify on the Fashion-MNIST test set: accuracy printed
# MODEL=fashion_cnn does the same with the convolutional network
# (../fashion_cnn.nn, checkpoint fashion_cnn.ckpt).
# NNC (default: the nnc built in this repository), CC and DATA may be set.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NNC=${NNC:-$HERE/../../nnc}
CC=${CC:-cc}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
MODEL=${MODEL:-fashion_mlp}
if [[ $MODEL == fashion_mlp ]]; then
  CKPT=fashion.ckpt
  NAMES=()
else
  CKPT=$MODEL.ckpt
  UPPER=$(tr a-z A-Z <<<"$MODEL")
  NAMES=("-DMODEL_HEADER=\"$MODEL.h\"" "-DMODEL(f)=${MODEL}_##f" "-DMODEL_CONST(c)=${UPPER}_##c")
fi

"$NNC" train "$HERE/../$MODEL.nn" --quiet --save "$CKPT" "$@"
"$NNC" compile "$HERE/../$MODEL.nn" --weights "$CKPT" -o "$MODEL.o"
$CC -std=c11 -O2 -Wall -I. "${NAMES[@]}" -o classify "$HERE/classify.c" "$MODEL.o" -lm
for f in t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  if [[ -e $DATA/$f ]]; then cp "$DATA/$f" .; else gunzip -c "$DATA/$f.gz" >"$f"; fi
done
./classify t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
