#!/usr/bin/env bash
# Training speed with 1 and 2 threads and several OpenMP wait policies, on a quiet machine and
# with a competing busy process on one core, side by side in one run.
#   scripts/bench-threads-under-load.sh [ROUNDS] [CONFIG]   (default 2 rounds of
#                                                           configs/mnist_mlp.json; needs build/)
# Each run trains 3 epochs and reports its last epoch's time and samples/s. The settings are
# environment variables read by GNU OpenMP when the process starts: OMP_WAIT_POLICY=passive
# (waiting threads sleep) and GOMP_SPINCOUNT (how long they spin first; the default spins). The
# first line has training.adapt_threads on (the default), which times steps on 1 thread now and
# then and uses it while it is faster (train/thread_tuner.h); the others run with it off.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
config=${2:-configs/mnist_mlp.json}
[ -x build/bin/gradflow ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
out=$(mktemp -d)
load=""
trap 'rm -rf "$out"; [ -n "$load" ] && kill "$load" 2>/dev/null; true' EXIT

run() {  # label environment threads [adapt]
  local line
  line=$(env $2 build/bin/gradflow train --config "$config" --out "$out/run" --force --threads "$3" \
           --set training.epochs=3 --set calibration.method=none --set training.adapt_threads="${4:-false}" 2>&1 |
           grep "epoch 3/3")
  printf '  %-28s %s\n' "$1" "$(sed 's/.*lr [^ ]*  //' <<<"$line")"
}
settings() {
  run "2 threads (default)" "GRADFLOW_BENCH=1" 2 true
  run "1 thread" "GRADFLOW_BENCH=1" 1
  run "2 threads, adapt_threads off" "GRADFLOW_BENCH=1" 2
  run "2 threads, passive" "OMP_WAIT_POLICY=passive" 2
  run "2 threads, spincount 10000" "GOMP_SPINCOUNT=10000" 2
}
for r in $(seq "$rounds"); do
  echo "round $r/$rounds, quiet machine:"
  settings
  echo "round $r/$rounds, with a busy process on one core:"
  sh -c 'while :; do :; done' &
  load=$!
  settings
  kill "$load"
  load=""
done
