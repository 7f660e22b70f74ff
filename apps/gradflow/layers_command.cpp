#include <cstdio>
#include <iostream>

#include "commands.h"
#include "gradflow/layer_registry.h"

namespace gradflow::cli {

namespace {

const char* kind_name(LayerParam::Kind kind) {
  switch (kind) {
    case LayerParam::Integer: return "integer";
    case LayerParam::Number: return "number";
    case LayerParam::Boolean: return "boolean";
    case LayerParam::String: return "string";
  }
  return "?";
}

nlohmann::json describe(const LayerInfo& info) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : info.params) {
    nlohmann::json j{{"name", p.name}, {"kind", kind_name(p.kind)}, {"help", p.help}};
    if (p.default_value.is_null()) {
      j["required"] = true;
    } else {
      j["default"] = p.default_value;
    }
    if (p.kind == LayerParam::Integer || p.kind == LayerParam::Number) {
      if (const std::string range = p.range.describe(); !range.empty()) j["range"] = range;
    }
    if (!p.choices.empty()) j["choices"] = p.choices;
    params.push_back(std::move(j));
  }
  return {{"type", info.type}, {"help", info.help}, {"params", params}};
}

}  // namespace

void add_layers_command(CLI::App& app, Action& action) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("layers", "list every registered layer type with its parameters and defaults");
  cmd->add_flag("--json", *json, "print the list as one JSON object");
  cmd->callback([&action, json]() {
    action = [json]() {
      nlohmann::json list = nlohmann::json::array();
      for (const LayerInfo* info : LayerRegistry::instance().all()) list.push_back(describe(*info));
      if (*json) {
        std::cout << nlohmann::json{{"layers", list}}.dump() << std::endl;
        return 0;
      }
      for (const auto& layer : list) {
        std::printf("%-12s %s\n", layer["type"].get<std::string>().c_str(), layer["help"].get<std::string>().c_str());
        for (const auto& p : layer["params"]) {
          std::string detail = p["kind"].get<std::string>();
          if (p.contains("range")) detail += " " + p["range"].get<std::string>();
          if (p.contains("choices")) detail += " " + p["choices"].dump();
          detail += p.contains("default") ? ", default " + p["default"].dump() : ", required";
          std::printf("    %-16s %s (%s)\n", p["name"].get<std::string>().c_str(), p["help"].get<std::string>().c_str(),
                      detail.c_str());
        }
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
