#!/usr/bin/env bash
# gradflow against PyTorch on the same MLPs, side by side in one run, as ratios.
#   scripts/bench-vs-torch.sh [ROUNDS]   (default 5; needs build/, datasets/mnist and python3-torch)
#   MIXED=0 skips the mixed-precision part; FP32=0 skips the float32 part.
#   The mixed-precision part also times gradflow fp32 with "backend": "onednn" (oneDNN's float32
#   products) beside the default backend, at the same shapes: where that backend pays.
#   KEEP=1 keeps the raw JSON lines of every run and prints where.
#   BASELINE=path/to/gradflow also runs another build (e.g. the previous commit's) on 2 threads in
#   every round (in float32, and in bf16 in the mixed-precision part), and reports this build's
#   time per sample against it.
# Each round runs gradflow bench on 2 threads, ../shared/bench/torch_mlp.py (or $TORCH_MLP) on 2
# threads and gradflow bench on 1 thread back to back, with the same architecture, batch, learning
# rate and momentum; each run's speed is the median of its 4 epochs after the first, compared per
# sample (PyTorch trains on all 60,000 images, gradflow on 55,000 after holding out validation).
# Also: evaluation and .gz loading times, the step's share of the plain matrix product, and how
# much the plain product itself gains from the second thread in the same runs (the ceiling for
# "2 threads vs 1" on a machine whose second core is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
torch_mlp=${TORCH_MLP:-../shared/bench/torch_mlp.py}
python=/usr/bin/python3
"$python" -c "import torch" 2>/dev/null || { echo "needs PyTorch: apt-get install python3-torch python3-numpy" >&2; exit 1; }
[ -f "$torch_mlp" ] || { echo "needs the PyTorch reference trainer $torch_mlp (set TORCH_MLP=path/to/torch_mlp.py)" >&2; exit 1; }
[ -x build/bin/gradflow ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
out=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "raw results in $out" >&2
[ -n "${KEEP:-}" ] || trap 'rm -rf "$out"' EXIT

plain=(--set optimizer.nesterov=false --set optimizer.weight_decay=0 --set schedule.type=constant --set schedule.warmup_epochs=0)
run() {  # name config hidden batch lr
  local name=$1 config=$2 hidden=$3 batch=$4 lr=$5
  gradflow() {  # threads [binary]
    "${2:-build/bin/gradflow}" --log-level warn bench --config "$config" "${plain[@]}" --set optimizer.momentum=0.9 \
      --set optimizer.lr="$lr" --set training.batch_size="$batch" --set threads="$1" --epochs 5 --json
  }
  torch() {  # the median of the 4 epochs after the first, as one JSON line
    "$python" "$torch_mlp" datasets/mnist --hidden "$hidden" --batch "$batch" --epochs 5 --threads 2 --lr "$lr" \
      --momentum 0.9 | tail -n 4 | "$python" -c 'import json, sys, statistics
e = [json.loads(l) for l in sys.stdin]
print(json.dumps({"samples_per_s": statistics.median(x["samples_per_s"] for x in e)}))'
  }
  for r in $(seq "$rounds"); do
    echo "round $r/$rounds: $name" >&2
    # the order alternates, so that neither side always runs first after the other
    if [ $((r % 2)) = 1 ]; then
      gradflow 2 >> "$out/$name.gradflow"; torch >> "$out/$name.torch"; gradflow 1 >> "$out/$name.one"
      [ -z "${BASELINE:-}" ] || gradflow 2 "$BASELINE" >> "$out/$name.baseline"
    else
      [ -z "${BASELINE:-}" ] || gradflow 2 "$BASELINE" >> "$out/$name.baseline"
      gradflow 1 >> "$out/$name.one"; torch >> "$out/$name.torch"; gradflow 2 >> "$out/$name.gradflow"
    fi
  done
}
# Mixed precision: gradflow bf16 ("precision": "bf16") and PyTorch with bf16 autocast
# (torch_mlp.py --bf16), beside both in float32, on the 784-512-256-10 MLP and two wider ones.
# Each round runs them back to back (with gradflow fp32 on the onednn backend, and BASELINE in
# bf16 when set), in an order that alternates.
# The baseline in bf16, while it can (a build from before bf16, or without oneDNN, refuses it:
# then the comparison is left out, with a warning, and the benchmark goes on).
baseline_bf16_works=1
baseline_bf16() {
  [ -n "${BASELINE:-}" ] && [ "$baseline_bf16_works" = 1 ] || return 0
  if ! gradflow bf16 auto "$BASELINE" >> "$out/$name.bf16_baseline"; then
    echo "warning: BASELINE $BASELINE did not run in bf16; its bf16 comparison is left out" >&2
    baseline_bf16_works=0
    rm -f "$out"/*.bf16_baseline
  fi
}
run_mixed() {  # name config layers-json hidden batch lr epochs
  local name=$1 config=$2 layers=$3 hidden=$4 batch=$5 lr=$6 epochs=$7
  gradflow() {  # precision [backend [binary]]
    "${3:-build/bin/gradflow}" --log-level warn bench --config "$config" "${plain[@]}" --set optimizer.momentum=0.9 \
      --set optimizer.lr="$lr" --set training.batch_size="$batch" --set threads=2 --set "model.layers=$layers" \
      --set precision="$1" --set backend="${2:-auto}" --epochs "$epochs" --json
  }
  torch() {  # [--bf16]: the median of the epochs after the first, as one JSON line
    "$python" "$torch_mlp" datasets/mnist --hidden "$hidden" --batch "$batch" --epochs "$epochs" --threads 2 --lr "$lr" \
      --momentum 0.9 "$@" | tail -n $((epochs - 1)) | "$python" -c 'import json, sys, statistics
e = [json.loads(l) for l in sys.stdin]
print(json.dumps({"samples_per_s": statistics.median(x["samples_per_s"] for x in e)}))'
  }
  for r in $(seq "$rounds"); do
    echo "round $r/$rounds: $name, mixed precision" >&2
    if [ $((r % 2)) = 1 ]; then
      gradflow bf16 >> "$out/$name.bf16"; torch --bf16 >> "$out/$name.torch_bf16"
      gradflow fp32 >> "$out/$name.fp32"; torch >> "$out/$name.torch_fp32"
      [ "$onednn" = 0 ] || gradflow fp32 onednn >> "$out/$name.fp32_onednn"
      baseline_bf16
    else
      baseline_bf16
      [ "$onednn" = 0 ] || gradflow fp32 onednn >> "$out/$name.fp32_onednn"
      torch >> "$out/$name.torch_fp32"; gradflow fp32 >> "$out/$name.fp32"
      torch --bf16 >> "$out/$name.torch_bf16"; gradflow bf16 >> "$out/$name.bf16"
    fi
  done
}
dense() {  # the model.layers JSON of an MLP with these hidden widths
  local out="" w
  for w in "$@"; do out+="{\"type\":\"dense\",\"units\":$w},{\"type\":\"relu\"},"; done
  echo "[${out}{\"type\":\"dense\",\"units\":10}]"
}

if [ "${FP32:-1}" != 0 ]; then
  run big configs/mnist_mlp.json 512,256 128 0.05
  run small configs/mnist_small.json 128 64 0.1
fi
if [ "${MIXED:-1}" != 0 ]; then
  onednn=0
  build/bin/gradflow backends | grep -q '^onednn ' && onednn=1
  "$python" -c "import torch; assert torch.backends.mkldnn.is_available()" 2>/dev/null ||
    echo "warning: this PyTorch has no oneDNN (mkldnn): its bf16 autocast will not use the bf16 units" >&2
  run_mixed mixed_big configs/mnist_mlp.json "$(dense 512 256)" 512,256 128 0.05 5
  run_mixed mixed_1024 configs/mnist_mlp.json "$(dense 1024 1024)" 1024,1024 128 0.05 3
  run_mixed mixed_2048 configs/mnist_mlp.json "$(dense 2048 2048)" 2048,2048 256 0.05 3
fi

# Every ratio is paired: taken within one round, between runs seconds apart, then the median
# over the rounds (with the lowest and highest) is reported. Absolute speeds drift between rounds.
"$python" - "$out" <<'PY'
import json, statistics, sys, os
out = sys.argv[1]
def lines(name): return [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
def spread(values, fmt):
    values = sorted(values)
    return f"{fmt(statistics.median(values))} ({fmt(values[0])} to {fmt(values[-1])})"
if os.path.exists(os.path.join(out, "big.gradflow")):
    print("| MLP | batch | gradflow samples/s | PyTorch samples/s | time ratio gradflow/PyTorch | step / plain matmul | 2 threads vs 1 | plain matmul 2 threads vs 1 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, label in (("big", "784-512-256-10"), ("small", "784-128-10")):
        g = lines(name + ".gradflow"); t = lines(name + ".torch"); one = lines(name + ".one")
        gs = [x["samples_per_second"] for x in g]
        ts = [x["samples_per_s"] for x in t]
        os1 = [x["samples_per_second"] for x in one]
        print(f"| {label} | {g[0]['batch']} | {statistics.median(gs):,.0f} | {statistics.median(ts):,.0f} | "
              f"{spread([b / a for a, b in zip(gs, ts)], lambda v: f'{v:.2f}')} | "
              f"{spread([x['step_to_matmul'] for x in g], lambda v: f'{v:.0%}')} | "
              f"{spread([a / b for a, b in zip(gs, os1)], lambda v: f'{v:.2f}x')} | "
              f"{spread([a['matmul_gflops'] / b['matmul_gflops'] for a, b in zip(g, one)], lambda v: f'{v:.2f}x')} |")
    if os.path.exists(os.path.join(out, "big.baseline")):
        print()
        print("| MLP | this build samples/s | baseline samples/s | time ratio this build/baseline |")
        print("|---|---|---|---|")
        for name, label in (("big", "784-512-256-10"), ("small", "784-128-10")):
            gs = [x["samples_per_second"] for x in lines(name + ".gradflow")]
            bs = [x["samples_per_second"] for x in lines(name + ".baseline")]
            print(f"| {label} | {statistics.median(gs):,.0f} | {statistics.median(bs):,.0f} | "
                  f"{spread([b / a for a, b in zip(gs, bs)], lambda v: f'{v:.3f}')} |")
    g = lines("big.gradflow")
    print()
    print(f"evaluating 10,000 test images (784-512-256-10): {statistics.median(x['eval_seconds'] for x in g):.3f} s; "
          f"loading MNIST from .gz: {statistics.median(x['load_gz_seconds'] for x in g):.3f} s "
          f"(medians over {len(g)} rounds)")
if os.path.exists(os.path.join(out, "mixed_big.bf16")):
    print()
    print("Mixed precision, 2 threads (time per sample; below 1 gradflow bf16 is faster):")
    print()
    print("| MLP | batch | gradflow bf16 samples/s | gradflow fp32 | PyTorch bf16 autocast | PyTorch fp32 | "
          "gradflow bf16 / PyTorch fp32 | gradflow bf16 / PyTorch bf16 | gradflow bf16 / gradflow fp32 | bf16 step / its plain products |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, label in (("mixed_big", "784-512-256-10"), ("mixed_1024", "784-1024-1024-10"), ("mixed_2048", "784-2048-2048-10")):
        if not os.path.exists(os.path.join(out, name + ".bf16")):
            continue
        b = lines(name + ".bf16"); f = lines(name + ".fp32")
        tb = [x["samples_per_s"] for x in lines(name + ".torch_bf16")]
        tf = [x["samples_per_s"] for x in lines(name + ".torch_fp32")]
        bs = [x["samples_per_second"] for x in b]; fs = [x["samples_per_second"] for x in f]
        ratio = lambda v: f"{v:.2f}"
        print(f"| {label} | {b[0]['batch']} | {statistics.median(bs):,.0f} | {statistics.median(fs):,.0f} | "
              f"{statistics.median(tb):,.0f} | {statistics.median(tf):,.0f} | "
              f"{spread([y / x for x, y in zip(bs, tf)], ratio)} | {spread([y / x for x, y in zip(bs, tb)], ratio)} | "
              f"{spread([y / x for x, y in zip(bs, fs)], ratio)} | "
              f"{spread([x['step_to_matmul'] for x in b], lambda v: f'{v:.0%}')} |")
    if os.path.exists(os.path.join(out, "mixed_big.fp32_onednn")):
        print()
        print("float32 products: the onednn backend against the default (" + lines("mixed_big.fp32")[0]["backend"] +
              "), time per sample, 2 threads:")
        print()
        print("| MLP | batch | default samples/s | onednn samples/s | onednn / default |")
        print("|---|---|---|---|---|")
        for name, label in (("mixed_big", "784-512-256-10"), ("mixed_1024", "784-1024-1024-10"), ("mixed_2048", "784-2048-2048-10")):
            if not os.path.exists(os.path.join(out, name + ".fp32_onednn")):
                continue
            fs = [x["samples_per_second"] for x in lines(name + ".fp32")]
            os_ = [x["samples_per_second"] for x in lines(name + ".fp32_onednn")]
            print(f"| {label} | {lines(name + '.fp32')[0]['batch']} | {statistics.median(fs):,.0f} | {statistics.median(os_):,.0f} | "
                  f"{spread([y / x for x, y in zip(os_, fs)], lambda v: f'{v:.2f}')} |")
    if os.path.exists(os.path.join(out, "mixed_big.bf16_baseline")):
        print()
        print("| MLP (bf16) | this build samples/s | baseline samples/s | time ratio this build/baseline |")
        print("|---|---|---|---|")
        for name, label in (("mixed_big", "784-512-256-10"), ("mixed_1024", "784-1024-1024-10"), ("mixed_2048", "784-2048-2048-10")):
            if not os.path.exists(os.path.join(out, name + ".bf16_baseline")):
                continue
            bs = [x["samples_per_second"] for x in lines(name + ".bf16")]
            ls = [x["samples_per_second"] for x in lines(name + ".bf16_baseline")]
            print(f"| {label} | {statistics.median(bs):,.0f} | {statistics.median(ls):,.0f} | "
                  f"{spread([y / x for x, y in zip(bs, ls)], lambda v: f'{v:.3f}')} |")
    b = lines("mixed_big.bf16")
    print()
    print(f"bf16 products ran on: {b[0].get('bf16_products', '?')}; evaluating 10,000 test images in bf16 "
          f"(784-512-256-10): {statistics.median(x['eval_seconds'] for x in b):.4f} s")
PY
