#!/usr/bin/env bash
# Trains a config once per seed (1, 2 and 3 unless given) and prints a markdown table of each run's
# test accuracy, validation accuracy and minutes, the mean ± standard deviation over the seeds
# (the sample sd, n − 1), and the first seed's calibration: test ECE and NLL before → after.
#
#   scripts/recipe-seeds.sh CONFIG [SEED...]   e.g. scripts/recipe-seeds.sh configs/mnist_best.json
#
# Needs build/bin/gradflow and the config's dataset, as scripts/test.sh leaves them. Each run is
# `gradflow train --config CONFIG --set seed=N --out runs/<name>-seed<N> --force`; a run directory
# that already holds a summary.json is reported, not trained again (delete it to retrain).
# "minutes" is the run's wall time as gradflow measures it (summary.json total_seconds: loading,
# training, evaluation and calibration), "train min" the training epochs alone (train_seconds).
# GRADFLOW_RUN_PREFIX, when set, goes before every gradflow command (e.g. "nice -n 5").
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
esac
config=$1
shift
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
for s in "${seeds[@]}"; do
  [[ $s =~ ^[0-9]+$ ]] || { echo "scripts/recipe-seeds.sh: a seed is a whole number, got '$s'" >&2; exit 2; }
done
[ -f "$config" ] || { echo "scripts/recipe-seeds.sh: no config $config" >&2; exit 2; }
gradflow=build/bin/gradflow
[ -x "$gradflow" ] || { echo "scripts/recipe-seeds.sh: build first (scripts/test.sh, or cmake -S . -B build && cmake --build build -j)" >&2; exit 1; }
command -v jq >/dev/null || scripts/install-deps.sh jq
read -r -a prefix <<<"${GRADFLOW_RUN_PREFIX:-}"

name=$(jq -r '.name' "$config")
runs=()
for s in "${seeds[@]}"; do
  run=runs/$name-seed$s
  if [ -f "$run/summary.json" ]; then
    echo "seed $s: $run finished earlier" >&2
  else
    echo "seed $s: training into $run (log $run.log)" >&2
    mkdir -p runs
    if ! "${prefix[@]}" "$gradflow" train --config "$config" --set seed="$s" --out "$run" --force >"$run.log" 2>&1; then
      echo "scripts/recipe-seeds.sh: seed $s failed; the end of $run.log:" >&2
      tail -5 "$run.log" >&2
      exit 1
    fi
  fi
  runs+=("$run")
done

echo "| seed | test accuracy | validation accuracy | minutes | train min |"
echo "|---|---|---|---|---|"
for i in "${!runs[@]}"; do
  jq -r '[.test_accuracy, .validation_accuracy, .total_seconds, .train_seconds] | @tsv' "${runs[$i]}/summary.json" |
    awk -F'\t' -v seed="${seeds[$i]}" '{ printf "| %s | %.2f%% | %.2f%% | %.1f | %.1f |\n", seed, 100 * $1, 100 * $2, $3 / 60, $4 / 60 }'
done
for i in "${!runs[@]}"; do
  jq -r '[.test_accuracy, .validation_accuracy, .total_seconds, .train_seconds] | @tsv' "${runs[$i]}/summary.json"
done | awk -F'\t' '
  { for (k = 1; k <= 4; k++) { x[NR, k] = $k; sum[k] += $k } }
  END {
    for (k = 1; k <= 4; k++) {
      mean[k] = sum[k] / NR; ss = 0
      for (i = 1; i <= NR; i++) ss += (x[i, k] - mean[k]) ^ 2
      sd[k] = NR > 1 ? sqrt(ss / (NR - 1)) : 0
    }
    printf "| mean ± sd (%d seeds) | %.2f ± %.2f%% | %.2f ± %.2f%% | %.1f ± %.1f | %.1f ± %.1f |\n", NR,
           100 * mean[1], 100 * sd[1], 100 * mean[2], 100 * sd[2], mean[3] / 60, sd[3] / 60, mean[4] / 60, sd[4] / 60 }'
jq -r --arg seed "${seeds[0]}" '
  def r: . * 10000 | round / 10000;
  def with_interval(k): "\(.[k] | r) [\(.[k + "_interval"][0] | r), \(.[k + "_interval"][1] | r)]";
  if .calibration_method == null then "seed \($seed): no calibration figures"
  else "seed \($seed), \(.calibration_method) scaling\(if .temperature != null then " (T = \(.temperature * 1000 | round / 1000))" else "" end), test split, 95% bootstrap intervals:\n  ECE \(with_interval("test_ece_before")) → \(with_interval("test_ece_after"))\n  NLL \(with_interval("test_nll_before")) → \(with_interval("test_nll_after"))" end' \
  "${runs[0]}/summary.json"
