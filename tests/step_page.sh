#!/usr/bin/env bash
# The step explorer in a real browser: `gradflow step --html` writes the page, headless Chromium
# opens a copy with tests/step_page_check.js appended, which walks every stage with the keyboard
# and clicks and compares what is shown with the embedded trace. Skipped (77) without Chromium or MNIST.
#   tests/step_page.sh GRADFLOW [CONFIG [STEP OPTIONS...]]     run from the project root
set -uo pipefail
gradflow=$1; config=${2:-configs/mnist_small.json}; shift $(( $# < 2 ? $# : 2 ))
here=$(cd "$(dirname "$0")" && pwd)
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then echo "skipped: no chromium (scripts/test.sh installs it)"; exit 77; fi
if [ ! -e datasets/mnist/t10k-images-idx3-ubyte ] && [ ! -e datasets/mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "skipped: no MNIST in datasets/mnist (scripts/fetch-mnist.sh)"; exit 77
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
options=("$@"); [ ${#options[@]} -eq 0 ] && options=(--index 8 --count 3 --check)

"$gradflow" --log-level off step --config "$config" "${options[@]}" --html "$work/page.html" > /dev/null || { echo "FAIL: gradflow step --html exited $?"; exit 1; }
# self-contained: nothing fetched from anywhere
if grep -Eq '<(script|link|img|iframe)[^>]* (src|href)=|@import|url\(' "$work/page.html"; then echo "FAIL: the page loads something from outside"; exit 1; fi

# an unwritable path is one line and exit 2
touch "$work/file"
"$gradflow" --log-level off step --config "$config" --html "$work/file/page.html" > /dev/null 2> "$work/err"; code=$?
if [ "$code" != 2 ] || [ "$(wc -l < "$work/err")" != 1 ]; then echo "FAIL: an unwritable --html path: exit $code, $(wc -l < "$work/err") lines"; exit 1; fi

cp "$here/step_page_check.js" "$work/"
sed 's#</body>#<script src="step_page_check.js"></script></body>#' "$work/page.html" > "$work/test.html"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --window-size=1280,900 --dump-dom \
  "file://$work/test.html#stage=3" > "$work/dom.html" 2> "$work/browser.log"
result=$(sed -n '/<pre id="test-result">/,/<\/pre>/p' "$work/dom.html" | sed 's#<[^>]*>##g')
echo "$result"
if [ -z "$result" ]; then echo "FAIL: the check did not run"; tail -5 "$work/browser.log"; exit 1; fi
case "$result" in "STEP-PAGE-TEST PASS"*) exit 0 ;; *) exit 1 ;; esac
