#!/usr/bin/env bash
# From a fresh Debian 12 / Ubuntu machine to a trained, evaluated MNIST model:
# installs the missing packages, builds, fetches MNIST, trains configs/mnist_mlp.json, evaluates.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# only what the quick start runs: the library and the command line
cmake -S . -B build -DGRADFLOW_BUILD_TESTS=OFF -DGRADFLOW_BUILD_BENCHMARKS=OFF -DGRADFLOW_BUILD_EXAMPLES=OFF
cmake --build build -j "$(nproc)"
scripts/fetch-mnist.sh datasets/mnist

# --force: a second quick start replaces the first one's run (a new run never silently does)
build/bin/gradflow train --config configs/mnist_mlp.json --force
echo
build/bin/gradflow eval --checkpoint runs/mnist_mlp/model.safetensors --split test
echo
echo "summary (runs/mnist_mlp/summary.json):"
cat runs/mnist_mlp/summary.json
echo
echo "outputs: runs/mnist_mlp/{config.json,metrics.jsonl,model.safetensors,summary.json}"
echo "program: build/bin/gradflow --help"
