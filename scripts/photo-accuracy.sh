#!/usr/bin/env bash
# Scores `gradflow predict` on the photographs scripts/make-photo-digits.sh made: the accuracy on
# the digit_<D>_<K> pictures (a picture whose digit was not found counts as wrong), and how many
# blank_* and pair_* pictures were warned about ("no digit found", "looks like N digits").
#
#   scripts/photo-accuracy.sh CHECKPOINT [PHOTO_DIR] [GRADFLOW]   (default: photos build/bin/gradflow)
set -euo pipefail
cd "$(dirname "$0")/.."

checkpoint=$1
dir=${2:-photos}
gradflow=${3:-build/bin/gradflow}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

score() {  # score PATTERN: prints "right total" for the digit pictures
  "$gradflow" predict --checkpoint "$checkpoint" --top 1 "$dir"/$1 >"$work/out" 2>"$work/err" || true
  awk -v total="$(ls "$dir"/$1 | wc -l)" '
    { name = $1; sub(/:$/, "", name); n = split(name, parts, "/"); split(parts[n], fields, "_")
      if (fields[2] == $2) right++ }
    END { printf "%d %d\n", right, total }' "$work/out"
}

read -r right total < <(score 'digit_*.jpg')
digit_warnings=$(grep -c "gradflow: warning" "$work/err" || true)
"$gradflow" predict --checkpoint "$checkpoint" "$dir"/blank_*.jpg >/dev/null 2>"$work/blank" || true
"$gradflow" predict --checkpoint "$checkpoint" "$dir"/pair_*.jpg >/dev/null 2>"$work/pair" || true
echo "digits: $right of $total right ($(awk -v r="$right" -v t="$total" 'BEGIN { printf "%.1f", 100 * r / t }')%), $digit_warnings warned about"
echo "blank pages warned as having no digit: $(grep -c "no digit found" "$work/blank" || true) of $(ls "$dir"/blank_*.jpg | wc -l)"
echo "pairs warned as several digits: $(grep -c "looks like" "$work/pair" || true) of $(ls "$dir"/pair_*.jpg | wc -l)"
