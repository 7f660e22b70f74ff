#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# New inputs go to build-fuzz/corpus/; a crash is saved to build-fuzz/artifacts/ and fails the
# script: add the file to fuzz/regressions/<target>/ so ctest replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

scripts/install-deps.sh clang libomp-dev libclang-rt-dev
cmake -S . -B build-fuzz -DGRADFLOW_FUZZ=ON -DGRADFLOW_BUILD_TESTS=OFF -DGRADFLOW_NATIVE=OFF \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG"
cmake --build build-fuzz -j "$(nproc)" --target fuzz_idx fuzz_config fuzz_checkpoint
mkdir -p build-fuzz/artifacts
for name in idx config checkpoint; do
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  cp -n fuzz/corpus/$name/* "$corpus"/ 2>/dev/null || true
  echo "fuzzing $name for ${seconds}s"
  build-fuzz/bin/fuzz_$name "$corpus" fuzz/regressions/$name -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix=build-fuzz/artifacts/$name- -print_final_stats=1 2>&1 | tail -n 12
done
echo "fuzzing: no crash"
