#!/usr/bin/env bash
# ctest PluginGuide: docs/extending.md as a new user follows it. Installs gradflow into a fresh
# prefix, builds examples/custom_layer against the installed package (find_package), and uses
# its plugin from the installed command line: layers, train (plugins listed in the config),
# eval, step --check, gradcheck, calibrate, predict; a checkpoint without its plugin names it;
# the program linked against the library trains too. Skipped (77) without MNIST.
set -euo pipefail
build=$1
source_dir=$2
mnist=$source_dir/datasets/mnist
[ -e "$mnist/t10k-images-idx3-ubyte" ] || [ -e "$mnist/t10k-images-idx3-ubyte.gz" ] || { echo "skipped: no MNIST"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "PluginGuide: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
launcher=()
[ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")
cmake -S "$source_dir/examples/custom_layer" -B "$work/layers" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configure"; }
cmake --build "$work/layers" -j2 > "$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
if grep -q "warning:" "$work/build.log"; then grep -A3 "warning:" "$work/build.log" | head -20; fail "the example builds with warnings"; fi

gradflow=$work/prefix/bin/gradflow
plugin=$(realpath "$work/layers/libcustom_layers.so")
"$gradflow" --plugin "$plugin" layers | grep -q "^prelu .*\[plugin $plugin\]" || fail "layers does not list prelu from the plugin"

# a config that names the plugin relative to itself, and a layer parameter off its default
sed -e 's|"seed": 1,|"seed": 1, "plugins": ["layers/libcustom_layers.so"],|' \
  "$source_dir/examples/custom_layer/prelu_mnist.json" > "$work/prelu.json"
"$gradflow" --log-level warn train --config "$work/prelu.json" --set training.epochs=1 --set "data.dir=$mnist" \
  --out "$work/run" --json > "$work/train.json" || fail "train"
grep -q '"type": "prelu"' "$work/run/config.json" && grep -q '"init": 0.1' "$work/run/config.json" || fail "config.json lost prelu's init"
accuracy=$(sed -n 's/.*"test_accuracy":\([0-9.]*\).*/\1/p' "$work/train.json")
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.9) }' || fail "test accuracy $accuracy < 0.9"
model=$work/run/model.safetensors
# --set applies to the plugins list like to any value: without it, prelu is unknown
set +e
"$gradflow" train --config "$work/prelu.json" --set 'plugins=[]' --out "$work/run-none" 2> "$work/none.err"
code=$?
set -e
[ "$code" = 2 ] && grep -q 'config error at /model/layers/1/type' "$work/none.err" || { cat "$work/none.err"; fail "--set plugins=[] was ignored"; }

# without the plugin, a model that needs it says which
set +e
"$gradflow" eval --checkpoint "$model" 2> "$work/missing.err"
code=$?
set -e
[ "$code" = 2 ] || fail "eval without the plugin exited $code"
grep -q "layer type \"prelu\" comes from the plugin $plugin, which is not loaded: give --plugin $plugin" "$work/missing.err" ||
  { cat "$work/missing.err"; fail "the missing plugin is not named"; }

"$gradflow" --plugin "$plugin" --log-level warn eval --checkpoint "$model" --json > /dev/null || fail "eval"
"$gradflow" --plugin "$plugin" --log-level warn step --checkpoint "$model" --check > "$work/step.out" || { cat "$work/step.out"; fail "step --check"; }
"$gradflow" --plugin "$plugin" --log-level warn gradcheck --checkpoint "$model" > "$work/gradcheck.out" || { cat "$work/gradcheck.out"; fail "gradcheck"; }
"$gradflow" --plugin "$plugin" --log-level warn calibrate --checkpoint "$model" > /dev/null || fail "calibrate"
images=$mnist/t10k-images-idx3-ubyte
[ -e "$images" ] || images=$images.gz
"$gradflow" --plugin "$plugin" --log-level warn predict --checkpoint "$model" "$images" --json > "$work/predict.json" || fail "predict"
grep -q '"predictions"' "$work/predict.json" || fail "predict printed no predictions"

# the program linked against the installed library, with the layers compiled in
"$work/layers/custom_layer_example" "$work/prelu.json" "$work/run2" training.epochs=1 "data.dir=$mnist" plugins=null \
  > "$work/program.json" 2> "$work/program.err" || { cat "$work/program.err"; fail "the linked program"; }
grep -q '"test_accuracy"' "$work/program.json" || fail "the linked program printed no summary"
echo "PluginGuide: installed, built against the package, and used the plugin from every command"
