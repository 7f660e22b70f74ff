#!/usr/bin/env bash
# The scripts `gradflow completion bash|zsh` prints complete real command lines: commands,
# options (every one --help lists), choices, files, directories, and the global options before
# and after the command. Usage: tests/completion.sh GRADFLOW_BINARY bash|zsh
# The zsh half is skipped (77) without zsh; the bash half needs only bash, not bash-completion.
set -euo pipefail
gradflow=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shell=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/files/run1" "$work/functions"
touch "$work/files/model.safetensors" "$work/files/mnist.json"
failures=0

# expect WHAT EXPECTED ACTUAL: the candidates, sorted and joined by spaces, must be EXPECTED
expect() {
  if [ "$2" = "$3" ]; then
    echo "ok   $1: $3"
  else
    echo "FAIL $1: expected [$2], got [$3]"
    failures=$((failures + 1))
  fi
}
# expect_has WHAT WORD ACTUAL / expect_lacks WHAT WORD ACTUAL
expect_has() {
  case " $3 " in *" $2 "*) echo "ok   $1 offers $2" ;; *) echo "FAIL $1: $2 missing from [$3]"; failures=$((failures + 1)) ;; esac
}
expect_lacks() {
  case " $3 " in *" $2 "*) echo "FAIL $1: $2 offered in [$3]"; failures=$((failures + 1)) ;; *) echo "ok   $1 leaves out $2" ;; esac
}
sorted() { sort | tr '\n' ' ' | sed 's/ $//'; }
levels="critical debug error info off trace warn"

if [ "$shell" = bash ]; then
  "$gradflow" completion bash > "$work/gradflow.bash"
  bash -n "$work/gradflow.bash"
  # complete WORD...: runs the completion function as bash would for the last word
  complete_words() {
    # shellcheck disable=SC1091
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _gradflow; printf "%s\n" "${COMPREPLY[@]}"' \
      _ "$work/gradflow.bash" "$@" | sed '/^$/d' | sorted
  }
  [ "$(bash -c 'source "$1"; complete -p gradflow' _ "$work/gradflow.bash")" = "complete -F _gradflow gradflow" ] ||
    { echo "FAIL the script does not register _gradflow for gradflow"; failures=$((failures + 1)); }
  cd "$work/files"
  expect "gradflow tr" "train" "$(complete_words gradflow tr)"
  expect_has "gradflow" completion "$(complete_words gradflow '')"
  expect "gradflow train --c" "--config" "$(complete_words gradflow train --c)"
  expect "gradflow --log-level" "$levels" "$(complete_words gradflow --log-level '')"
  expect "gradflow --log-level=d" "debug" "$(complete_words gradflow --log-level = d)"
  expect "gradflow train --log-level w" "warn" "$(complete_words gradflow train --log-level w)"
  expect "gradflow eval --split" "test train validation" "$(complete_words gradflow eval --split '')"
  expect "gradflow eval --split=v" "validation" "$(complete_words gradflow eval --split=v)"
  expect "gradflow eval --checkpoint" "mnist.json model.safetensors run1" "$(complete_words gradflow eval --checkpoint '')"
  expect "gradflow eval --json --checkpoint m" "mnist.json model.safetensors" "$(complete_words gradflow eval --json --checkpoint m)"
  expect "gradflow eval --data" "run1" "$(complete_words gradflow eval --data '')"
  expect "gradflow report" "run1" "$(complete_words gradflow report '')"
  expect "gradflow train --set data.dir=r" "run1" "$(complete_words gradflow train --set data.dir = r)"
  expect "gradflow eval --batch" "" "$(complete_words gradflow eval --batch '')"
  expect "gradflow predict --checkpoint m.s mo" "model.safetensors" "$(complete_words gradflow predict --checkpoint m.s mo)"
  expect "gradflow completion" "bash zsh" "$(complete_words gradflow completion '')"
  # every option --help lists completes, with the global ones after each command too
  help_options() { "$gradflow" "$@" --help | grep -oE '^  +-[^ ]+' | tr ',' '\n' | sed 's/^ *//' | sorted; }
  listed=$(help_options)
  expect_has "gradflow --help" --log-level "$listed"
  for option in $listed; do expect_has "gradflow -" "$option" "$(complete_words gradflow -)"; done
  for command in $(complete_words gradflow ''); do
    listed=$(help_options "$command")
    expect_has "gradflow $command --help" --help "$listed"
    offered=$(complete_words gradflow "$command" -)
    for option in $listed --plugin --log-level --version; do expect_has "gradflow $command -" "$option" "$offered"; done
  done
else
  command -v zsh >/dev/null || { echo "skipped: no zsh (apt-get install zsh)"; exit 77; }
  "$gradflow" completion zsh > "$work/functions/_gradflow"
  zsh -n "$work/functions/_gradflow"
  [ "$(head -1 "$work/functions/_gradflow")" = "#compdef gradflow" ] || { echo "FAIL no #compdef line"; failures=$((failures + 1)); }
  # sourced after compinit, it registers itself
  registered=$(zsh -f -c 'autoload -U compinit; compinit -u -D; source "$1"; print -r -- $_comps[gradflow]' _ "$work/functions/_gradflow" 2>&1)
  expect "sourced: \$_comps[gradflow]" "_gradflow" "$registered"
  # autoloaded from $fpath, Tab offers these
  complete_line() {
    (cd "$work/files" && timeout 20 zsh -f "$here/completion_zsh.zsh" "$work/functions" "$(dirname "$gradflow")" "$1") |
      sed '/^$/d' | sort -u | tr '\n' ' ' | sed 's/ $//'
  }
  expect "gradflow tr" "train" "$(complete_line 'gradflow tr')"
  expect "gradflow --log-level" "$levels" "$(complete_line 'gradflow --log-level ')"
  expect "gradflow train --log-level" "$levels" "$(complete_line 'gradflow train --log-level ')"
  expect "gradflow eval --split" "test train validation" "$(complete_line 'gradflow eval --split ')"
  expect "gradflow completion" "bash zsh" "$(complete_line 'gradflow completion ')"
  expect "gradflow train --c" "--config" "$(complete_line 'gradflow train --c')"
  offered=$(complete_line 'gradflow train --config mnist.json --')
  expect_has "gradflow train --config mnist.json --" --set "$offered"
  expect_has "gradflow train --config mnist.json --" --plugin "$offered"
  expect_lacks "gradflow train --config mnist.json --" --resume "$offered"
  expect_has "gradflow eval --checkpoint" model.safetensors "$(complete_line 'gradflow eval --checkpoint ')"
fi

[ "$failures" -eq 0 ] || { echo "$failures completion checks failed"; exit 1; }
echo "all $shell completion checks passed"
