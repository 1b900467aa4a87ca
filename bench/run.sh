#!/usr/bin/env bash
# `make bench`: one epoch of examples/fashion_mlp.nn (784-256-128-10, Adam,
# batch 64, all 60,000 training images) with nnc, and the same job in PyTorch
# on the same CPU in the same run, each taking the best of a few runs (shared,
# noisy machines: the best run is the least disturbed).  Prints samples/s and
# the ratio.  The reference needs python3-torch and OpenBLAS (apt-get install
# python3-torch libopenblas0-pthread); without OpenBLAS, Debian's torch falls
# back to the reference BLAS and is ~8x slower, which would flatter nnc.
# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, which some machines here set as a
# safety measure, are unset for the reference so OpenBLAS picks its best
# kernel for this CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-3}
model=examples/fashion_mlp.nn
log=$(mktemp)
trap 'rm -f "$log"' EXIT

best() { sort -g | tail -n 1; }

nnc_rates=()
for ((i = 0; i < runs; i++)); do
  : >"$log"
  ./nnc train "$model" --epochs 1 --quiet --log "$log" >/dev/null
  nnc_rates+=("$(sed -n 's/.*"samples_per_second": \([0-9.e+]*\).*/\1/p' "$log")")
done
nnc=$(printf '%s\n' "${nnc_rates[@]}" | best)
printf 'nnc      %8.0f samples/s  (runs: %s)\n' "$nnc" "$(printf '%.0f ' "${nnc_rates[@]}")"

if ! ls /usr/lib/x86_64-linux-gnu/libopenblas*.so* >/dev/null 2>&1; then
  echo "pytorch  not measured: OpenBLAS is missing (apt-get install libopenblas0-pthread)"
elif /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  for threads in 1 2; do
    rates=()
    for ((i = 0; i < runs; i++)); do
      rates+=("$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_ref.py --threads "$threads" | sed -n 's/samples_per_s=\([0-9.]*\).*/\1/p')")
    done
    ref=$(printf '%s\n' "${rates[@]}" | best)
    printf 'pytorch  %8.0f samples/s  with %d thread(s) (runs: %s)\n' "$ref" "$threads" "$(printf '%.0f ' "${rates[@]}")"
    awk -v a="$nnc" -v b="$ref" -v t="$threads" 'BEGIN { printf "ratio    %8.2fx  nnc / pytorch-%d-thread\n", a / b, t }'
  done
else
  echo "pytorch  not installed (apt-get install python3-torch): no reference measured"
fi
