#!/usr/bin/env bash
# One process with 2 threads against 2 MPI ranks with 1 thread each, on the same config, side by
# side in one run (rounds alternate, so both see the same machine load).
#   scripts/bench-mpi.sh [ROUNDS] [CONFIG]   (default 3 rounds of configs/mnist_mlp.json; needs
#                                             build/ with MPI, mpirun and the config's data)
# Each run trains the whole config; its epoch time is the median over its epochs after the first.
# Prints, per setup: epoch seconds and samples/s (medians over the rounds), the share of the epoch
# rank 0 spent in the gradients' all-reduce (waiting for the other rank included), and the test
# accuracy of every round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
config=${2:-configs/mnist_mlp.json}
[ -x build/bin/gradflow ] || { echo "build first: cmake -S . -B build && cmake --build build -j" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "needs Open MPI: scripts/install-deps.sh (openmpi-bin, libopenmpi-dev)" >&2; exit 1; }
mpirun=(mpirun -np 2)
[ "$(id -u)" -eq 0 ] && mpirun=(mpirun --allow-run-as-root -np 2)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for r in $(seq "$rounds"); do
  echo "round $r/$rounds: 1 process × 2 threads" >&2
  build/bin/gradflow --log-level warn train --config "$config" --threads 2 --out "$out/one.$r" --json >/dev/null
  echo "round $r/$rounds: 2 ranks × 1 thread" >&2
  "${mpirun[@]}" build/bin/gradflow --log-level warn train --config "$config" --threads 1 --out "$out/two.$r" --json >/dev/null
done

python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def runs(kind):
    rows = []
    for r in range(1, rounds + 1):
        d = f"{out}/{kind}.{r}"
        epochs = [json.loads(l) for l in open(f"{d}/metrics.jsonl")][1:]
        summary = json.load(open(f"{d}/summary.json"))
        rows.append({"seconds": statistics.median(e["seconds"] for e in epochs),
                     "samples": statistics.median(e["samples_per_second"] for e in epochs),
                     "reduce": statistics.median(e.get("allreduce_seconds", 0) / e["seconds"] for e in epochs),
                     "accuracy": summary["test_accuracy"]})
    return rows
one, two = runs("one"), runs("two")
med = lambda rows, k: statistics.median(x[k] for x in rows)
print(f"{'setup':<24}{'epoch s':>9}{'samples/s':>11}{'all-reduce':>12}  test accuracy per round")
for name, rows in (("1 process × 2 threads", one), ("2 ranks × 1 thread", two)):
    share = f"{100 * med(rows, 'reduce'):.0f}%" if name.startswith("2") else "-"
    print(f"{name:<24}{med(rows, 'seconds'):>9.2f}{med(rows, 'samples'):>11.0f}{share:>12}  "
          + " ".join(f"{100 * x['accuracy']:.2f}%" for x in rows))
print(f"2 ranks / 1 process: epoch time {med(two, 'seconds') / med(one, 'seconds'):.2f}×, "
      f"test accuracy {100 * (statistics.mean(x['accuracy'] for x in two) - statistics.mean(x['accuracy'] for x in one)):+.2f} points (means)")
PY
