# Gradients of random conv/pool models (strides, padding, dilation, groups,
# max and average pools) equal PyTorch's in float64 within 1e-5 relative
# (torch_grads.py says how).  Runs wherever python3-torch is installed and
# says it skipped otherwise.
source "$(dirname "$0")/lib.sh"
PY=${BENCH_PYTHON:-/usr/bin/python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "torch_grads: skipped: $PY cannot import torch (apt-get install python3-torch)"
  exit 0
fi
"$PY" "$ROOT/tests/e2e/torch_grads.py" "$NNC" "$WORK" --models 12 || fail "gradients differ from PyTorch's"
