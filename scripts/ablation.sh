#!/usr/bin/env bash
# What each ingredient of a recipe adds, on the validation split: trains the config with one
# ingredient removed at a time and prints a markdown table of the validation accuracy and loss of
# every variant beside the full recipe's. Every run has training.test=false: no test figure is
# measured, so nothing here can lean on the test split.
#
#   scripts/ablation.sh CONFIG [--full RUN_DIR] [--only KEY,...]   e.g. scripts/ablation.sh configs/mnist_best.json
#
# The variants (KEY: what is changed), each only where the config has the ingredient:
#   max_norm         no max-norm              --set optimizer.max_norm=null
#   ema              no weight EMA            --set training.ema=null
#   input_dropout    no input dropout         --set model.layers.0.p=0      (a dropout layer first)
#   hidden_dropout   no hidden dropout        --set model.layers.K.p=0      (every later dropout layer)
#   label_smoothing  no label smoothing       --set model.head.label_smoothing=0
#   one_cycle        cosine, not one-cycle    --set schedule.type=cosine --set schedule.warmup_epochs=1
#   momentum         momentum 0.9             --set optimizer.momentum=0.9  (when it is above 0.9)
#   input_noise      no input noise           --set model.layers.0.std=0    (a gaussian_noise layer first)
#   hidden_noise     no hidden noise          --set model.layers.K.std=0    (every later gaussian_noise layer)
#   adversarial      no adversarial training  --set training.adversarial=null
#   mixup            no mixup                 --set training.mixup=null
# --only trains just the variants named (and the full recipe), in the order above.
# The full recipe is trained too, unless --full names a finished run of the same config and seed
# (the first run of scripts/recipe-seeds.sh, say: training does not depend on the test split, so
# its validation figures are the ones this would measure). Runs go to runs/<name>-ablation/<variant>/;
# a run there with a summary.json is reported, not trained again (delete it to retrain).
# GRADFLOW_RUN_PREFIX, when set, goes before every gradflow command (e.g. "nice -n 5").
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") usage >&2; exit 2 ;;
esac
config=$1
shift
full=""
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --full) [ $# -ge 2 ] || { echo "scripts/ablation.sh: --full needs a run directory" >&2; exit 2; }; full=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || { echo "scripts/ablation.sh: --only needs a list of variants" >&2; exit 2; }; only=,$2,; shift 2 ;;
    *) echo "scripts/ablation.sh: unknown argument '$1' (scripts/ablation.sh --help)" >&2; exit 2 ;;
  esac
done
[ -f "$config" ] || { echo "scripts/ablation.sh: no config $config" >&2; exit 2; }
[ -z "$full" ] || [ -f "$full/summary.json" ] || { echo "scripts/ablation.sh: $full holds no summary.json (a finished run)" >&2; exit 2; }
command -v jq >/dev/null || scripts/install-deps.sh jq
if [ -n "$full" ]; then
  # --full must be this config trained as configured: every value the config file sets (but its
  # name, output, plugins, data.dir and training.test; false and null included) is the same in the
  # run's config.json
  differs=$(jq -rn --slurpfile want "$config" --slurpfile run "$full/config.json" '
    [$want[0] | paths(type != "object" and type != "array")
     | select(.[0] != "name" and .[0] != "output" and .[0] != "plugins" and . != ["data", "dir"] and . != ["training", "test"])]
    | map(. as $p | select(($run[0] | getpath($p)) != ($want[0] | getpath($p))) | map(tostring) | join(".")) | join(", ")')
  [ -z "$differs" ] || {
    echo "scripts/ablation.sh: $full was not trained with $config as it is (differs in: $differs)" >&2; exit 2; }
fi
gradflow=build/bin/gradflow
[ -x "$gradflow" ] || { echo "scripts/ablation.sh: build first (scripts/test.sh, or cmake -S . -B build && cmake --build build -j)" >&2; exit 1; }
read -r -a prefix <<<"${GRADFLOW_RUN_PREFIX:-}"

name=$(jq -r '.name' "$config")
dir=runs/$name-ablation
has() { jq -e "$1" "$config" >/dev/null; }

keys="max_norm ema input_dropout hidden_dropout label_smoothing one_cycle momentum input_noise hidden_noise adversarial mixup"
if [ -n "$only" ]; then
  for k in $(tr ',' ' ' <<<"$only"); do
    [[ " $keys " == *" $k "* ]] || { echo "scripts/ablation.sh: unknown variant '$k' (one of: $keys)" >&2; exit 2; }
  done
fi
variants=("full recipe|")
add() {  # add KEY LABEL SETS: a variant, unless --only leaves it out
  [ -z "$only" ] || [[ $only == *",$1,"* ]] || return 0
  variants+=("$2|$3")
}
has '.optimizer.max_norm != null' && add max_norm "no max-norm" "optimizer.max_norm=null"
has '.training.ema != null' && add ema "no weight EMA" "training.ema=null"
has '.model.layers[0].type == "dropout" and .model.layers[0].p > 0' && add input_dropout "no input dropout" "model.layers.0.p=0"
hidden=$(jq -r '[.model.layers | to_entries[] | select(.key > 0 and .value.type == "dropout" and .value.p > 0) | "model.layers.\(.key).p=0"] | join(" ")' "$config")
[ -n "$hidden" ] && add hidden_dropout "no hidden dropout" "$hidden"
has '(.model.head.label_smoothing // 0) > 0' && add label_smoothing "no label smoothing" "model.head.label_smoothing=0"
has '.schedule.type == "one_cycle"' && add one_cycle "cosine, not one-cycle" "schedule.type=cosine schedule.warmup_epochs=1"
has '(.optimizer.momentum // 0) > 0.9' && add momentum "momentum 0.9" "optimizer.momentum=0.9"
has '.model.layers[0].type == "gaussian_noise" and .model.layers[0].std > 0' && add input_noise "no input noise" "model.layers.0.std=0"
hidden_noise=$(jq -r '[.model.layers | to_entries[] | select(.key > 0 and .value.type == "gaussian_noise" and .value.std > 0) | "model.layers.\(.key).std=0"] | join(" ")' "$config")
[ -n "$hidden_noise" ] && add hidden_noise "no hidden noise" "$hidden_noise"
has '.training.adversarial != null' && add adversarial "no adversarial training" "training.adversarial=null"
has '.training.mixup != null' && add mixup "no mixup" "training.mixup=null"

results=()
for v in "${variants[@]}"; do
  label=${v%%|*}
  read -r -a sets <<<"${v#*|}"
  run=$dir/$(tr -c 'A-Za-z0-9.\n' '_' <<<"$label")
  if [ "$label" = "full recipe" ] && [ -n "$full" ]; then
    run=$full
    echo "$label: from $run" >&2
  elif [ -f "$run/summary.json" ]; then
    echo "$label: $run finished earlier" >&2
  else
    args=(--set training.test=false)
    for s in "${sets[@]}"; do args+=(--set "$s"); done
    echo "$label: training into $run (${sets[*]:-as configured})" >&2
    mkdir -p "$dir"
    if ! "${prefix[@]}" "$gradflow" train --config "$config" "${args[@]}" --out "$run" --force >"$run.log" 2>&1; then
      echo "scripts/ablation.sh: '$label' failed; the end of $run.log:" >&2
      tail -5 "$run.log" >&2
      exit 1
    fi
  fi
  results+=("$label|${sets[*]:-}|$run")
done

full_accuracy=$(jq '.validation_accuracy' "${results[0]##*|}/summary.json")
echo "| variant | --set | validation accuracy | change | validation loss | minutes |"
echo "|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  label=${r%%|*}
  rest=${r#*|}
  sets=${rest%|*}
  run=${rest##*|}
  jq -r '[.validation_accuracy, .validation_loss, .total_seconds] | @tsv' "$run/summary.json" |
    awk -F'\t' -v variant="$label" -v sets="${sets:-—}" -v full="$full_accuracy" '{
      gsub(/ /, ", ", sets)
      change = variant == "full recipe" ? "—" : sprintf("%+.2f", 100 * ($1 - full))
      printf "| %s | %s | %.2f%% | %s | %.4f | %.1f |\n", variant, sets, 100 * $1, change, $2, $3 / 60 }'
done
