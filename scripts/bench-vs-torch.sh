#!/usr/bin/env bash
# gradflow against PyTorch on the same MLPs, side by side in one run, as ratios.
#   scripts/bench-vs-torch.sh [ROUNDS]   (default 3; needs build/, datasets/mnist and python3-torch)
# Each round runs gradflow bench and ../shared/bench/torch_mlp.py (or $TORCH_MLP) back to back
# with the same architecture, batch, learning rate, momentum and threads; the medians over the
# rounds of the later epochs are compared per sample (PyTorch trains on all 60,000 images,
# gradflow on 55,000 after holding out validation). Also: 1 -> 2 thread scaling, evaluation
# and .gz loading times, and the step's share of the plain matrix product.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
torch_mlp=${TORCH_MLP:-../shared/bench/torch_mlp.py}
python=/usr/bin/python3
"$python" -c "import torch" 2>/dev/null || { echo "needs PyTorch: apt-get install python3-torch python3-numpy" >&2; exit 1; }
[ -x build/bin/gradflow ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

plain=(--set optimizer.nesterov=false --set optimizer.weight_decay=0 --set schedule.type=constant --set schedule.warmup_epochs=0)
run() {  # name config hidden batch lr
  local name=$1 config=$2 hidden=$3 batch=$4 lr=$5
  for r in $(seq "$rounds"); do
    build/bin/gradflow --log-level warn bench --config "$config" "${plain[@]}" --set optimizer.momentum=0.9 \
      --set optimizer.lr="$lr" --set training.batch_size="$batch" --set threads=2 --epochs 3 --json >> "$out/$name.gradflow"
    "$python" "$torch_mlp" datasets/mnist --hidden "$hidden" --batch "$batch" --epochs 3 --threads 2 --lr "$lr" \
      --momentum 0.9 | tail -n 2 >> "$out/$name.torch"
    build/bin/gradflow --log-level warn bench --config "$config" "${plain[@]}" --set optimizer.momentum=0.9 \
      --set optimizer.lr="$lr" --set training.batch_size="$batch" --set threads=1 --epochs 3 --json >> "$out/$name.one"
  done
}
run big configs/mnist_mlp.json 512,256 128 0.05
run small configs/mnist_small.json 128 64 0.1

"$python" - "$out" <<'PY'
import json, statistics, sys, os
out = sys.argv[1]
def lines(name): return [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
print("| MLP | batch | gradflow samples/s | PyTorch samples/s | time ratio gradflow/PyTorch | step / matmul | 2 threads vs 1 |")
print("|---|---|---|---|---|---|---|")
for name, label in (("big", "784-512-256-10"), ("small", "784-128-10")):
    g = lines(name + ".gradflow"); t = lines(name + ".torch"); one = lines(name + ".one")
    gs = statistics.median(x["samples_per_second"] for x in g)
    ts = statistics.median(x["samples_per_s"] for x in t)
    os1 = statistics.median(x["samples_per_second"] for x in one)
    share = statistics.median(x["step_to_matmul"] for x in g)
    print(f"| {label} | {g[0]['batch']} | {gs:,.0f} | {ts:,.0f} | {ts / gs:.2f} | {share:.0%} | {gs / os1:.2f}x |")
g = lines("big.gradflow")
print()
print(f"evaluating 10,000 test images (784-512-256-10): {statistics.median(x['eval_seconds'] for x in g):.3f} s; "
      f"loading MNIST from .gz: {statistics.median(x['load_gz_seconds'] for x in g):.3f} s")
PY
