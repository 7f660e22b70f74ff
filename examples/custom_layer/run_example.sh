#!/usr/bin/env bash
# ctest: the example program trains swish_mnist.json for one epoch on MNIST (skipped without it).
set -euo pipefail
example=$1
source_dir=$2
[ -e "$source_dir/datasets/mnist/train-images-idx3-ubyte" ] || [ -e "$source_dir/datasets/mnist/train-images-idx3-ubyte.gz" ] ||
  { echo "skipped: no MNIST"; exit 77; }
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
out=$("$example" "$source_dir/examples/custom_layer/swish_mnist.json" "$run" training.epochs=1 \
  "data.dir=$source_dir/datasets/mnist" 2>/dev/null)
echo "$out"
accuracy=$(echo "$out" | sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p')
grep -q '"type":"swish"' "$run/config.json" || grep -q '"swish"' "$run/config.json"
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.95) }'
