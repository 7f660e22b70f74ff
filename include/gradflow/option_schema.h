#pragma once
// The options of a registered component (a layer, an optimizer) are declared once, with their
// kind, default, range and help; a config's object is checked against them, every error naming
// its JSON path, and returned with the defaults filled in. `gradflow layers` and
// `gradflow optimizers` print the same declarations.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/json_check.h"

namespace gradflow {

struct OptionSpec {
  enum Kind { Integer, Number, Boolean, String };
  std::string name;
  Kind kind = Number;
  nlohmann::json default_value;  // null: required
  json_check::Range range;       // for Integer and Number
  std::string help;
  std::vector<std::string> choices;  // for String; empty = any
};

// Checks `spec` at `path` against `options` (keys in `also_known` are allowed and left out);
// returns {"type": type, every option with its value or default}.
nlohmann::json resolve_options(const nlohmann::json& spec, const std::string& path, const std::string& type,
                               const std::vector<OptionSpec>& options, const std::vector<std::string>& also_known = {});

// An option as JSON for listings: name, kind, help, default or required, range, choices.
nlohmann::json describe_option(const OptionSpec& option);

}  // namespace gradflow
