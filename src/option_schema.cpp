#include "gradflow/option_schema.h"

namespace gradflow {

namespace jc = json_check;

nlohmann::json resolve_options(const nlohmann::json& spec, const std::string& path, const std::string& type,
                               const std::vector<OptionSpec>& options, const std::vector<std::string>& also_known) {
  jc::expect_object(spec, path);
  std::vector<std::string> known{"type"};
  known.insert(known.end(), also_known.begin(), also_known.end());
  for (const auto& o : options) known.push_back(o.name);
  jc::reject_unknown_keys(spec, path, known);

  nlohmann::json resolved{{"type", type}};
  for (const auto& o : options) {
    const bool required = o.default_value.is_null();
    switch (o.kind) {
      case OptionSpec::Integer:
        resolved[o.name] = jc::integer(spec, o.name, path,
                                       required ? std::nullopt : std::optional<int64_t>(o.default_value.get<int64_t>()),
                                       o.range);
        break;
      case OptionSpec::Number:
        resolved[o.name] = jc::number(spec, o.name, path,
                                      required ? std::nullopt : std::optional<double>(o.default_value.get<double>()),
                                      o.range);
        break;
      case OptionSpec::Boolean:
        resolved[o.name] = jc::boolean(spec, o.name, path,
                                       required ? std::nullopt : std::optional<bool>(o.default_value.get<bool>()));
        break;
      case OptionSpec::String:
        resolved[o.name] = jc::string(
            spec, o.name, path, required ? std::nullopt : std::optional<std::string>(o.default_value.get<std::string>()),
            o.choices);
        break;
    }
  }
  return resolved;
}

nlohmann::json describe_option(const OptionSpec& o) {
  static const char* const kinds[] = {"integer", "number", "boolean", "string"};
  nlohmann::json j{{"name", o.name}, {"kind", kinds[o.kind]}, {"help", o.help}};
  if (o.default_value.is_null()) {
    j["required"] = true;
  } else {
    j["default"] = o.default_value;
  }
  if (o.kind == OptionSpec::Integer || o.kind == OptionSpec::Number) {
    if (const std::string range = o.range.describe(); !range.empty()) j["range"] = range;
  }
  if (!o.choices.empty()) j["choices"] = o.choices;
  return j;
}

}  // namespace gradflow
