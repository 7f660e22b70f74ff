// Command-line parse errors as one line: the command they concern, the nearest name for a
// misspelt command or option, and where the help is.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "commands.h"

namespace gradflow::cli {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean 'train'?" when one of `names` is close to `word`, else "".
std::string suggestion(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& name : names) {
    const size_t d = edit_distance(word, name);
    if (d < best_distance) best = name, best_distance = d;
  }
  return best.empty() ? "" : "; did you mean " + best + "?";
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The long names of an app's options, "--config" and "--help" included.
std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    for (const auto& name : option->get_snames()) names.push_back("-" + name);
  }
  return names;
}

}  // namespace

std::string parse_error_line(CLI::App& app, const CLI::ParseError& error, int argc, char** argv) {
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
  const std::vector<std::string> global = option_names(app);
  // the first word that is neither an option nor the value of --log-level or --plugin names the command
  CLI::App* command = nullptr;
  int at = 1;
  for (; at < argc; ++at) {
    const std::string word = argv[at];
    if (word == "--log-level" || word == "--plugin") {
      ++at;
      continue;
    }
    if (word.empty() || word[0] == '-') continue;
    if (std::find(commands.begin(), commands.end(), word) == commands.end()) {
      return "unknown command '" + word + "'" + suggestion(word, commands) + " (gradflow --help lists the commands)";
    }
    command = app.get_subcommand(word);
    break;
  }
  if (command == nullptr) {
    for (int i = 1; i < argc; ++i) {
      const std::string word = std::string(argv[i]).substr(0, std::string(argv[i]).find('='));
      if (word.size() > 1 && word[0] == '-' && std::find(global.begin(), global.end(), word) == global.end()) {
        return "unknown option " + word + suggestion(word, global) + " (gradflow --help)";
      }
    }
    if (error.get_name() == "RequiredError" && one_line(error.what()).find("subcommand") != std::string::npos) {
      std::string list;
      for (const auto& c : commands) list += (list.empty() ? "" : ", ") + c;
      return "a command is required: " + list + " (gradflow --help)";
    }
    return one_line(error.what()) + " (gradflow --help)";
  }
  const std::string name = command->get_name();
  const std::string help = " (gradflow " + name + " --help)";
  std::vector<std::string> known = option_names(*command);
  known.insert(known.end(), global.begin(), global.end());
  for (int i = at + 1; i < argc; ++i) {
    const std::string token = argv[i];
    if (token == "--") break;
    const std::string word = token.substr(0, token.find('='));
    if (word.size() > 1 && word[0] == '-' && !std::isdigit(static_cast<unsigned char>(word[1])) && word[1] != '.' &&
        std::find(known.begin(), known.end(), word) == known.end()) {
      return name + ": unknown option " + word + suggestion(word, known) + help;
    }
  }
  const std::string text = one_line(error.what());
  for (const auto& option : global) {
    if (text.compare(0, option.size() + 1, option + ":") == 0) return text + " (gradflow --help)";  // --log-level
  }
  return name + ": " + text + help;
}

}  // namespace gradflow::cli
