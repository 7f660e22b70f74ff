#!/usr/bin/env bash
# A checkpoint loads into PyTorch's nn.Sequential with load_state_dict(strict=True), and PyTorch
# computes the same test accuracy as gradflow eval. Skipped (77) without PyTorch or MNIST.
set -euo pipefail
gradflow=$1
source_dir=$2
python=/usr/bin/python3
"$python" -c "import torch" 2>/dev/null || { echo "skipped: no PyTorch (apt-get install python3-torch)"; exit 77; }
[ -e "$source_dir/datasets/mnist/t10k-images-idx3-ubyte" ] || [ -e "$source_dir/datasets/mnist/t10k-images-idx3-ubyte.gz" ] ||
  { echo "skipped: no MNIST"; exit 77; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT

# compare: trains configs/mnist_small.json for one epoch with extra --set arguments, then checks
compare() {
  rm -rf "$run"/*
  "$gradflow" --log-level warn train --config "$source_dir/configs/mnist_small.json" --set training.epochs=1 \
    --set data.dir="$source_dir/datasets/mnist" --out "$run" --json "$@" > "$run/summary.out"
  ours=$("$gradflow" --log-level warn eval --checkpoint "$run/model.safetensors" --json | "$python" -c "import json,sys; print(json.load(sys.stdin)['accuracy'])")
  theirs=$("$python" "$source_dir/scripts/check-torch-load.py" "$run/model.safetensors" "$source_dir/datasets/mnist" | "$python" -c "import json,sys; print(json.load(sys.stdin)['test_accuracy'])")
  echo "gradflow accuracy $ours, PyTorch accuracy $theirs"
  "$python" -c "import sys; sys.exit(0 if abs($ours - $theirs) < 2e-4 else 1)"
}
compare
# every layer type with a PyTorch twin, batch_norm's running statistics included
compare --set 'model.layers=[{"type":"dense","units":64},{"type":"batch_norm"},{"type":"gelu"},{"type":"dropout","p":0.1},{"type":"dense","units":32},{"type":"leaky_relu","negative_slope":0.05},{"type":"tanh"},{"type":"dense","units":16},{"type":"sigmoid"},{"type":"dense","units":10}]' \
        --set 'data.mean=0.13' --set 'data.std=0.31'

