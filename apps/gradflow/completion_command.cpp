// gradflow completion bash|zsh: a shell completion script generated from the command line
// itself. The CLI::App tree is walked when the script is printed, so a command or option added
// anywhere completes without touching this file.
//
// How an option's value completes, decided from its definition:
//   - the choices of an IsMember-style check (CLI11 shows them only as a "{a,b,c}" description;
//     each one is kept only if the check accepts it);
//   - nothing for a number (type INT, UINT, FLOAT, NUMBER, N);
//   - directories when a type or check says DIR, the name ends in "dir" (run_dir), or the first
//     phrase of the description names a directory ("the dataset directory (default: ...)");
//   - file names otherwise.
#include <cctype>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "gradflow/errors.h"

namespace gradflow::cli {

namespace {

const char* const kProgram = "gradflow";

enum class ValueKind { Flag, Files, Directories, Choices, Nothing };

struct Argument {
  std::vector<std::string> names;  // "-h", "--help"; empty for a positional
  std::string name;                // the positional's name, or the option's longest name
  std::string description;
  std::string type;  // FILE, INT, TEXT, ...
  ValueKind value = ValueKind::Flag;
  std::vector<std::string> choices;
  bool repeatable = false;
  bool ends_parsing = false;        // --help, --version: nothing else matters after them
  std::vector<std::string> excludes;  // names of the options it cannot be given with
};

struct Command {
  std::string name;
  std::string description;
  std::vector<Argument> options;  // its own, then those of the parents it falls through to
  std::vector<Argument> positionals;
  std::vector<Command> subcommands;
};

std::vector<CLI::Validator*> validators_of(CLI::Option& option) {
  std::vector<CLI::Validator*> out;
  try {
    for (int i = 0;; ++i) out.push_back(option.get_validator(i));
  } catch (const CLI::OptionNotFound&) {
  }
  return out;
}

bool plain_word(const std::string& word) {
  if (word.empty()) return false;
  for (const char c : word) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string("_.+-/@%,").find(c) == std::string::npos) return false;
  }
  return word.find(',') == std::string::npos;
}

// The values an IsMember-style check accepts: its description lists them as "{a,b,c}".
std::vector<std::string> choices_of(CLI::Option& option) {
  for (CLI::Validator* validator : validators_of(option)) {
    const std::string description = validator->get_description();
    if (description.size() < 3 || description.front() != '{' || description.back() != '}') continue;
    std::vector<std::string> choices;
    std::stringstream list(description.substr(1, description.size() - 2));
    for (std::string choice; std::getline(list, choice, ',');) {
      std::string checked = choice;
      try {
        if (plain_word(choice) && (*validator)(checked).empty()) choices.push_back(choice);
      } catch (const CLI::Error&) {
      }
    }
    if (!choices.empty()) return choices;
  }
  return {};
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool names_directory(CLI::Option& option, const std::string& type, const std::string& name) {
  if (type == "DIR" || type == "DIRECTORY") return true;
  for (CLI::Validator* validator : validators_of(option)) {
    const std::string description = validator->get_description();
    if (description == "DIR" || description == "DIRECTORY") return true;
  }
  const std::string n = lower(name);
  if (n.size() >= 3 && n.compare(n.size() - 3, 3, "dir") == 0) return true;
  const std::string description = lower(option.get_description());
  const std::string first_phrase = description.substr(0, description.find_first_of("(,;:"));
  return first_phrase.find("directory") != std::string::npos;
}

Argument argument_of(CLI::App& app, CLI::Option& option) {
  Argument a;
  for (const auto& s : option.get_snames()) a.names.push_back("-" + s);
  for (const auto& l : option.get_lnames()) a.names.push_back("--" + l);
  a.name = option.nonpositional() ? (option.get_lnames().empty() ? option.get_snames().front() : option.get_lnames().front())
                                  : option.get_name(true);
  a.description = option.get_description();
  const std::string full_type = option.get_type_name();
  a.type = full_type.substr(0, full_type.find(':'));
  a.repeatable = option.get_items_expected_max() > 1 || option.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
  a.ends_parsing = &option == app.get_help_ptr() || &option == app.get_help_all_ptr() || &option == app.get_version_ptr();
  if (option.get_items_expected_max() == 0) {
    a.value = ValueKind::Flag;
    a.repeatable = false;
  } else if (!(a.choices = choices_of(option)).empty()) {
    a.value = ValueKind::Choices;
  } else if (a.type == "INT" || a.type == "UINT" || a.type == "FLOAT" || a.type == "NUMBER" || a.type == "N") {
    a.value = ValueKind::Nothing;
  } else if (names_directory(option, a.type, a.name)) {
    a.value = ValueKind::Directories;
  } else {
    a.value = ValueKind::Files;
  }
  for (const CLI::Option* other : option.get_excludes()) {
    for (const auto& l : other->get_lnames()) a.excludes.push_back("--" + l);
    for (const auto& s : other->get_snames()) a.excludes.push_back("-" + s);
  }
  return a;
}

Command command_of(CLI::App& app, const std::vector<Argument>& inherited) {
  Command command;
  command.name = app.get_name();
  command.description = app.get_description();
  std::set<std::string> taken;
  for (CLI::Option* option : app.get_options()) {
    if (option->get_group().empty()) continue;  // hidden
    Argument a = argument_of(app, *option);
    if (option->nonpositional()) {
      taken.insert(a.names.begin(), a.names.end());
      command.options.push_back(std::move(a));
    } else {
      command.positionals.push_back(std::move(a));
    }
  }
  for (const Argument& a : inherited) {
    bool shadowed = false;
    for (const auto& n : a.names) shadowed = shadowed || taken.count(n) > 0;
    if (!shadowed) command.options.push_back(a);
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name().empty() || sub->get_group().empty() || sub->get_disabled()) continue;
    command.subcommands.push_back(command_of(*sub, sub->get_fallthrough() ? command.options : std::vector<Argument>{}));
  }
  return command;
}

// 'text' for a shell: single quotes, with ' written as '\''
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string joined(const std::vector<std::string>& words, const std::string& separator) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

// ---- bash: the command line as lookup functions, and one function that walks the words ----

std::string bash_kind(const Argument& a) {
  switch (a.value) {
    case ValueKind::Flag: return "";
    case ValueKind::Files: return "file";
    case ValueKind::Directories: return "dir";
    case ValueKind::Choices: return "choice:" + joined(a.choices, ",");
    case ValueKind::Nothing: return "none";
  }
  return "";
}

void bash_tables(const Command& command, const std::string& path, std::ostringstream& subcommands,
                 std::ostringstream& options, std::ostringstream& values, std::ostringstream& positionals) {
  std::vector<std::string> names;
  for (const auto& sub : command.subcommands) names.push_back(sub.name);
  if (!names.empty()) subcommands << "    " << shell_quoted(path) << ") REPLY=" << shell_quoted(joined(names, " ")) << " ;;\n";
  names.clear();
  for (const auto& option : command.options) {
    names.insert(names.end(), option.names.begin(), option.names.end());
    const std::string kind = bash_kind(option);
    if (kind.empty()) continue;
    for (const auto& n : option.names) values << "    " << shell_quoted(path + ":" + n) << ") REPLY=" << shell_quoted(kind) << " ;;\n";
  }
  options << "    " << shell_quoted(path) << ") REPLY=" << shell_quoted(joined(names, " ")) << " ;;\n";
  names.clear();
  for (const auto& positional : command.positionals) names.push_back(bash_kind(positional) + (positional.repeatable ? "*" : ""));
  if (!names.empty()) positionals << "    " << shell_quoted(path) << ") REPLY=" << shell_quoted(joined(names, " ")) << " ;;\n";
  for (const auto& sub : command.subcommands) {
    bash_tables(sub, path.empty() ? sub.name : path + " " + sub.name, subcommands, options, values, positionals);
  }
}

const char* const kBashWalker = R"BASH(
_gradflow() {
  local REPLY cur word option= kind= path= i n=0
  local -a words=() kinds=()
  # bash splits "--option=value" and "--set key=value" at '=' (COMP_WORDBREAKS): join them again
  for ((i = 1; i <= COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == = && ${#words[@]} -gt 0 ]]; then
      words[-1]+==
      if ((i < COMP_CWORD)); then ((i++)); words[-1]+=${COMP_WORDS[i]}; fi
    else
      words+=("$word")
    fi
  done
  cur=${words[-1]}
  unset 'words[-1]'
  # before the cursor: the command reached, the option awaiting a value, the positionals given
  for word in "${words[@]}"; do
    if [[ -n $option ]]; then option=; continue; fi
    case $word in
      --) ;;
      -*=*) ;;
      -*) __gradflow_option_value "$path" "$word"; [[ -n $REPLY ]] && option=$word ;;
      *)
        __gradflow_subcommands "$path"
        if ((n == 0)) && [[ " $REPLY " == *" $word "* ]]; then
          path=${path:+$path }$word
        else
          ((n++))
        fi ;;
    esac
  done
  COMPREPLY=()
  if [[ -n $option ]]; then
    __gradflow_option_value "$path" "$option"; kind=$REPLY
  elif [[ $cur == --*=* ]]; then
    __gradflow_option_value "$path" "${cur%%=*}"; kind=$REPLY
  elif [[ $cur == -* ]]; then
    __gradflow_options "$path"
    mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
    return 0
  else
    __gradflow_subcommands "$path"
    if [[ -n $REPLY ]] && ((n == 0)); then
      mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
      return 0
    fi
    __gradflow_positionals "$path"; read -ra kinds <<< "$REPLY"
    if ((n < ${#kinds[@]})); then
      kind=${kinds[n]}
    elif ((${#kinds[@]} > 0)) && [[ ${kinds[-1]} == *'*' ]]; then
      kind=${kinds[-1]}
    else
      __gradflow_options "$path"
      mapfile -t COMPREPLY < <(compgen -W "$REPLY" -- "$cur")
      return 0
    fi
    kind=${kind%'*'}
  fi
  # readline replaces only what follows the last '=', a word break
  cur=${cur##*=}
  case $kind in
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    choice:*) kind=${kind#choice:}; mapfile -t COMPREPLY < <(compgen -W "${kind//,/ }" -- "$cur") ;;
  esac
  return 0
}
)BASH";

std::string bash_script(const Command& root) {
  std::ostringstream subcommands, options, values, positionals;
  bash_tables(root, "", subcommands, options, values, positionals);
  std::ostringstream out;
  out << "# bash completion for " << kProgram << ", generated by `" << kProgram << " completion bash`\n"
      << "# The commands and options below are written out from " << kProgram << "'s own definitions.\n\n"
      << "# the subcommands of a command (a path like \"\" or \"train\")\n"
      << "__gradflow_subcommands() {\n  case $1 in\n" << subcommands.str() << "    *) REPLY= ;;\n  esac\n}\n\n"
      << "# the options of a command, with those of its parents that it accepts too\n"
      << "__gradflow_options() {\n  case $1 in\n" << options.str() << "    *) REPLY= ;;\n  esac\n}\n\n"
      << "# how the value of an option completes: file, dir, none, choice:A,B; empty for a flag\n"
      << "__gradflow_option_value() {\n  case $1:$2 in\n" << values.str() << "    *) REPLY= ;;\n  esac\n}\n\n"
      << "# how each positional argument completes, in order; a trailing * repeats the last\n"
      << "__gradflow_positionals() {\n  case $1 in\n" << positionals.str() << "    *) REPLY= ;;\n  esac\n}\n"
      << kBashWalker << "\ncomplete -F _gradflow " << kProgram << "\n";
  return out.str();
}

// ---- zsh: one _arguments function per command ----

std::string zsh_escape(const std::string& text, const std::string& special) {
  std::string out;
  for (const char c : text) {
    if (special.find(c) != std::string::npos || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string zsh_action(const Argument& a) {
  switch (a.value) {
    case ValueKind::Flag: return "";
    case ValueKind::Files: return "_files";
    case ValueKind::Directories: return "_files -/";
    case ValueKind::Choices: return "(" + joined(a.choices, " ") + ")";
    case ValueKind::Nothing: return " ";
  }
  return "";
}

std::string zsh_message(const Argument& a) {
  std::string name = a.name;
  while (!name.empty() && name.front() == '-') name.erase(0, 1);
  const std::string type = a.type.empty() || a.type == "TEXT" ? "" : " (" + a.type + ")";
  return zsh_escape(name + type, ":");
}

void zsh_option_specs(const Argument& a, std::vector<std::string>& specs) {
  std::vector<std::string> exclusions = a.excludes;
  // _arguments offers an option once unless it repeats; its other names must be excluded too
  if (!a.repeatable && a.names.size() > 1) exclusions.insert(exclusions.end(), a.names.begin(), a.names.end());
  const std::string group = a.ends_parsing ? "(- *)" : exclusions.empty() ? "" : "(" + joined(exclusions, " ") + ")";
  for (const auto& name : a.names) {
    std::string spec = group + (a.repeatable ? "*" : "") + name;
    if (a.value != ValueKind::Flag) spec += name.rfind("--", 0) == 0 ? "=" : "+";
    spec += "[" + zsh_escape(a.description, "[]") + "]";
    if (a.value != ValueKind::Flag) spec += ":" + zsh_message(a) + ":" + zsh_action(a);
    specs.push_back(shell_quoted(spec));
  }
}

std::string zsh_function_name(const std::string& path) {
  std::string out = "_gradflow";
  if (!path.empty()) out += '_';
  for (const char c : path) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

void zsh_functions(const Command& command, const std::string& path, std::ostringstream& out) {
  std::vector<std::string> specs;
  for (const auto& option : command.options) zsh_option_specs(option, specs);
  for (size_t i = 0; i < command.positionals.size(); ++i) {
    const Argument& p = command.positionals[i];
    const std::string position = p.repeatable ? "*" : std::to_string(i + 1);
    specs.push_back(shell_quoted(position + ":" + zsh_message(p) + ":" + zsh_action(p)));
  }
  const std::string function = zsh_function_name(path);
  out << function << "() {\n  local curcontext=$curcontext state state_descr line ret=1\n  typeset -A opt_args\n"
      << "  _arguments -C -S \\\n";
  for (const auto& spec : specs) out << "    " << spec << " \\\n";
  if (command.subcommands.empty()) {
    out << "    && ret=0\n  return ret\n}\n\n";
  } else {
    out << "    '1: :->command' \\\n    '*:: :->argument' && ret=0\n  case $state in\n    command)\n"
        << "      local -a commands=(\n";
    for (const auto& sub : command.subcommands) {
      out << "        " << shell_quoted(zsh_escape(sub.name, ":") + ":" + sub.description) << "\n";
    }
    out << "      )\n      _describe -t commands " << shell_quoted(path.empty() ? std::string(kProgram) + " command" : path + " command")
        << " commands && ret=0 ;;\n    argument)\n"
        << "      curcontext=${curcontext%:*:*}:" << zsh_function_name(path).substr(1) << "-$words[1]:\n"
        << "      case $words[1] in\n";
    for (const auto& sub : command.subcommands) {
      const std::string sub_path = path.empty() ? sub.name : path + " " + sub.name;
      out << "        " << shell_quoted(sub.name) << ") " << zsh_function_name(sub_path) << " && ret=0 ;;\n";
    }
    out << "      esac ;;\n  esac\n  return ret\n}\n\n";
  }
  for (const auto& sub : command.subcommands) zsh_functions(sub, path.empty() ? sub.name : path + " " + sub.name, out);
}

std::string zsh_script(const Command& root) {
  std::ostringstream out;
  out << "#compdef " << kProgram << "\n"
      << "# zsh completion for " << kProgram << ", generated by `" << kProgram << " completion zsh`\n"
      << "# The commands and options below are written out from " << kProgram << "'s own definitions.\n\n";
  zsh_functions(root, "", out);
  // autoloaded from $fpath this file is _gradflow's body: run it; sourced, register it
  out << "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n  _gradflow \"$@\"\nelse\n  compdef _gradflow "
      << kProgram << "\nfi\n";
  return out.str();
}

// The tree the scripts are written from, for other tools (`gradflow completion --json`).
nlohmann::json tree_json(const Command& command) {
  static const char* const kinds[] = {"flag", "files", "directories", "choices", "nothing"};
  auto argument = [](const Argument& a) {
    nlohmann::json j{{"name", a.name}, {"description", a.description}, {"value", kinds[static_cast<int>(a.value)]}};
    if (!a.names.empty()) j["names"] = a.names;
    if (!a.type.empty()) j["type"] = a.type;
    if (!a.choices.empty()) j["choices"] = a.choices;
    if (a.repeatable) j["repeatable"] = true;
    if (!a.excludes.empty()) j["excludes"] = a.excludes;
    return j;
  };
  nlohmann::json j{{"name", command.name}, {"description", command.description},
                   {"options", nlohmann::json::array()}, {"positionals", nlohmann::json::array()},
                   {"commands", nlohmann::json::array()}};
  for (const auto& o : command.options) j["options"].push_back(argument(o));
  for (const auto& p : command.positionals) j["positionals"].push_back(argument(p));
  for (const auto& sub : command.subcommands) j["commands"].push_back(tree_json(sub));
  return j;
}

const char* const kInstall = R"(Install:
  bash  source <(gradflow completion bash)                  in this shell; add the line to ~/.bashrc to keep it
        gradflow completion bash > ~/.local/share/bash-completion/completions/gradflow
                                                            in every new shell, through the bash-completion package
  zsh   gradflow completion zsh > "${fpath[1]}/_gradflow"   in every new shell, when that directory is writable
        or: mkdir -p ~/.zfunc && gradflow completion zsh > ~/.zfunc/_gradflow
            with fpath=(~/.zfunc $fpath) in ~/.zshrc before compinit
        source <(gradflow completion zsh)                   in this shell, after compinit
cmake --install puts both scripts under PREFIX/share: bash-completion/completions/gradflow and
zsh/site-functions/_gradflow.)";

}  // namespace

void add_completion_command(CLI::App& app, Action& action) {
  struct CompletionArgs {
    std::string shell;
    bool json = false;
  };
  auto a = std::make_shared<CompletionArgs>();
  CLI::App* cmd = app.add_subcommand("completion", "print a bash or zsh completion script for gradflow's commands and options");
  auto* json = cmd->add_flag("--json", a->json, "print the commands and options the scripts are written from, as one JSON object");
  cmd->add_option("shell", a->shell, "the shell: bash or zsh")->check(CLI::IsMember({"bash", "zsh"}))->excludes(json);
  cmd->footer(kInstall);
  cmd->callback([&action, &app, a]() {
    action = [&app, a]() {
      const Command root = command_of(app, {});
      if (a->json) {
        std::cout << tree_json(root).dump() << std::endl;
        return 0;
      }
      if (a->shell.empty()) throw InputError("completion: give the shell, bash or zsh (gradflow completion --help)");
      std::cout << (a->shell == "bash" ? bash_script(root) : zsh_script(root)) << std::flush;
      // a half-written script (a full disk) would break the shell that loads it
      if (!std::cout) throw InputError("standard output: the completion script could not be written");
      return 0;
    };
  });
}

}  // namespace gradflow::cli
