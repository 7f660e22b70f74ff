#!/usr/bin/env bash
# Makes photographs of handwritten-looking digits to check `gradflow predict` on: digits 0-9 in
# handwriting fonts, on grey or tinted paper, in coloured ink, rotated, off-centre, under a
# lighting gradient and sometimes a shadow, with noise, blur and JPEG compression, in sizes from
# 200 × 260 to 1024 × 768. Deterministic for a given seed.
#
#   scripts/make-photo-digits.sh [OUT_DIR] [PER_DIGIT] [SEED]     (default: photos 20 1)
#
# Writes OUT_DIR/digit_<D>_<K>.jpg (D the digit), OUT_DIR/blank_<K>.jpg (a page with no digit) and
# OUT_DIR/pair_<DD>_<K>.jpg (two digits side by side). Score a model on them with
# scripts/photo-accuracy.sh. Needs ImageMagick and a few fonts (installed when missing):
#   imagemagick fonts-dkg-handwriting fonts-breip fonts-rufscript fonts-comic-neue
#   fonts-humor-sans fonts-dejavu-core
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-photos}
per_digit=${2:-20}
RANDOM=${3:-1}

if ! command -v convert >/dev/null || ! convert -version 2>/dev/null | grep -q ImageMagick ||
   ! fc-list 2>/dev/null | grep -qi dkg; then
  scripts/install-deps.sh imagemagick fonts-dkg-handwriting fonts-breip fonts-rufscript \
    fonts-comic-neue fonts-humor-sans fonts-dejavu-core
fi

fonts=()
for f in /usr/share/fonts/truetype/fifthhorseman/dkg.ttf /usr/share/fonts/truetype/fifthhorseman/dkgBd.ttf \
         /usr/share/fonts/truetype/fifthhorseman/dkgIt.ttf /usr/share/fonts/truetype/breip/Breip.ttf \
         /usr/share/fonts/truetype/rufscript/Rufscript010.ttf \
         /usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf /usr/share/fonts/opentype/comic-neue/ComicNeue-BoldItalic.otf \
         /usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf; do
  [ -f "$f" ] && fonts+=("$f")
done
[ ${#fonts[@]} -gt 0 ] || { echo "error: none of the fonts is installed" >&2; exit 1; }

sizes=(400x300 300x400 640x480 320x240 500x500 200x260 1024x768 360x360)
inks=("rgb(25,25,30)" "rgb(28,47,143)" "rgb(16,32,96)" "rgb(160,20,20)" "rgb(27,94,32)" "rgb(90,90,95)")

between() { echo $(($1 + RANDOM % ($2 - $1 + 1))); }

# photo NAME TEXT [blank]: one picture with TEXT written on it (nothing when TEXT is empty)
photo() {
  local name=$1 text=$2
  local size=${sizes[RANDOM % ${#sizes[@]}]}
  local w=${size%x*} h=${size#*x}
  local grey; grey=$(between 150 240)
  local paper="rgb($((grey + $(between -8 8))),$((grey + $(between -8 8))),$((grey - $(between 0 15))))"
  local ink=${inks[RANDOM % ${#inks[@]}]}
  local font=${fonts[RANDOM % ${#fonts[@]}]}
  local min=$((w < h ? w : h))
  local points=$((min * $(between 30 60) / 100))
  local stroke=$((points * $(between 0 4) / 100))
  local angle; angle=$(between -12 12)
  local dx; dx=$(between $((-w / 5)) $((w / 5)))
  local dy; dy=$(between $((-h / 6)) $((h / 6)))
  local dark; dark=$(between 50 85)  # the light falls to this % across the page
  local noise; noise=$(between 2 10)
  local blur; blur=$(between 3 15)
  local quality; quality=$(between 35 90)
  local args=(-size "$size" "xc:$paper")
  if [ -n "$text" ]; then
    args+=(-font "$font" -pointsize "$points" -fill "$ink" -stroke "$ink" -strokewidth "$stroke" -gravity center
           -annotate "${angle}x${angle}$(printf '%+d%+d' "$dx" "$dy")" "$text")
  fi
  # a lighting gradient from one corner to the opposite one
  local cx=$((RANDOM % 2 * w)) cy=$((RANDOM % 2 * h))
  args+=(\( -size "$size" xc: -sparse-color Barycentric "$cx,$cy gray(100%) $((w - cx)),$((h - cy)) gray($dark%)" \)
         -compose multiply -composite)
  # half the pictures: the soft shadow of a hand or a phone over one corner
  if [ $((RANDOM % 2)) -eq 0 ]; then
    local sx=$((RANDOM % 2 * w)) sy=$((RANDOM % 2 * h))
    args+=(\( -size "$size" xc:white -stroke none +gravity -fill "gray($(between 60 85)%)"
           -draw "polygon $sx,$sy $((w / 2 + $(between -40 40))),$sy $sx,$((h / 2 + $(between -40 40)))"
           -blur "0x$((min / 15 + 1))" \) -compose multiply -composite)
  fi
  args+=(-attenuate "0.$noise" +noise Gaussian -blur "0x$((blur / 10)).$((blur % 10))" -quality "$quality")
  convert "${args[@]}" "$out/$name.jpg"
}

mkdir -p "$out"
count=0
for ((k = 0; k < per_digit; ++k)); do
  for d in 0 1 2 3 4 5 6 7 8 9; do
    photo "digit_${d}_$k" "$d"
    count=$((count + 1))
  done
done
for ((k = 0; k < 10; ++k)); do
  photo "blank_$k" ""
  pair="$(between 1 9)$(between 0 9)"
  photo "pair_${pair}_$k" "$pair"
  count=$((count + 2))
done
echo "$count pictures in $out/"
