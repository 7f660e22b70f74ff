#!/usr/bin/env zsh
# Prints the candidates zsh's completion system offers for a command line, one a line, by typing
# it followed by Tab into an interactive zsh on a pseudo-terminal (zpty) whose compadd also
# prints what it adds. Usage: completion_zsh.zsh FPATH_DIR PATH_DIR 'gradflow eval --split '
# Based on the zpty technique of github.com/Valodim/zsh-capture-completion.
if [[ -n $GRADFLOW_COMPLETION_SETUP ]]; then
  # inside the pseudo-terminal: completion on, Tab completes, Enter does nothing
  PROMPT=
  autoload -U compinit
  compinit -u -D
  bindkey '^M' undefined
  bindkey '^J' undefined
  bindkey '^I' complete-word
  null-line() { echo -E - $'\0' }
  compprefuncs=(null-line)
  comppostfuncs=(null-line exit)
  zstyle ':completion:*' list-grouped false
  zstyle ':completion:*' insert-tab false
  compadd() {
    # calls that only ask for matches (-O, -A, -D) add nothing
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
      builtin compadd "$@"
      return $?
    fi
    typeset -a hits
    builtin compadd -A hits "$@"
    (( $#hits )) && print -rl -- $hits
  }
  return 0
fi

zmodload zsh/zpty
zpty completion zsh -f -i
zpty -w completion "GRADFLOW_COMPLETION_SETUP=1; fpath=(${(q)1} \$fpath); path=(${(q)2} \$path); source ${(q)0:A}"
zpty -w completion "$3"$'\t'
integer marks=0
while zpty -r completion; do :; done | while IFS= read -r line; do
  # the candidates come between two NUL lines
  if [[ $line == *$'\0\r' ]]; then
    (( marks++ )) && break || continue
  fi
  (( marks )) && print -r -- "${line%$'\r'}"
done
zpty -d completion
