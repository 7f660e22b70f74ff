#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>

#include "commands.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/layer_registry.h"
#include "gradflow/optim/max_norm.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/softmax_cross_entropy.h"

namespace gradflow::cli {

namespace {

nlohmann::json describe(const LayerInfo& info) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : info.params) params.push_back(describe_option(p));
  nlohmann::json out{{"type", info.type}, {"help", info.help}, {"params", params}};
  if (!info.plugin.empty()) out["plugin"] = info.plugin;
  return out;
}

// Prints components registered by name, each with its options, as text or one JSON object.
void print_components(const nlohmann::json& list) {
  int width = 12;
  for (const auto& component : list) width = std::max(width, static_cast<int>(component["type"].get<std::string>().size()));
  for (const auto& component : list) {
    std::printf("%-*s %s%s\n", width, component["type"].get<std::string>().c_str(), component["help"].get<std::string>().c_str(),
                component.contains("plugin") ? (" [plugin " + component["plugin"].get<std::string>() + "]").c_str() : "");
    for (const auto& p : component["params"]) {
      std::string detail = p["kind"].get<std::string>();
      if (p.contains("range")) detail += " " + p["range"].get<std::string>();
      if (p.contains("choices")) detail += " " + p["choices"].dump();
      detail += p.contains("default") ? ", default " + p["default"].dump() : ", required";
      std::printf("    %-16s %s (%s)\n", p["name"].get<std::string>().c_str(), p["help"].get<std::string>().c_str(),
                  detail.c_str());
    }
  }
}

// A subcommand that lists registered components: `list()` gives them as JSON, {"<name>": [...]}
// with {"type", "help", "params"} each (and perhaps more sections, such as the layers' "heads"),
// printed with --json as it is, else as text, each further section under its own title.
// `preface` is a line printed before the text listing.
void add_listing_command(CLI::App& app, Action& action, const std::string& name, const std::string& help,
                         std::function<nlohmann::json()> list, std::string preface = "") {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_flag("--json", *json, "print the list as one JSON object");
  cmd->callback([&action, json, name, list, preface]() {
    action = [json, name, list, preface]() {
      const nlohmann::json sections = list();
      if (*json) {
        std::cout << sections.dump() << std::endl;
        return 0;
      }
      std::printf("%s", preface.c_str());
      print_components(sections.at(name));
      for (const auto& [section, components] : sections.items()) {
        if (section == name) continue;
        std::printf("\n%s:\n", section.c_str());  // "heads:"
        print_components(components);
      }
      return 0;
    };
  });
}

}  // namespace

void add_layers_command(CLI::App& app, Action& action) {
  add_listing_command(app, action, "layers", "list every registered layer type and the head, with their parameters and defaults", [] {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerInfo* info : LayerRegistry::instance().all()) layers.push_back(describe(*info));
    nlohmann::json head_params = nlohmann::json::array();
    for (const auto& p : softmax_cross_entropy_options()) head_params.push_back(describe_option(p));
    const nlohmann::json head{{"type", kSoftmaxCrossEntropy}, {"help", softmax_cross_entropy_help()}, {"params", head_params}};
    return nlohmann::json{{"layers", layers}, {"heads", nlohmann::json::array({head})}};
  });
}

void add_backends_command(CLI::App& app, Action& action) {
  add_listing_command(
      app, action, "backends", "list the matrix-product backends this build has (the config's \"backend\")",
      [] {
        nlohmann::json list = nlohmann::json::array();
        for (const ProductBackend* b : ProductBackends::instance().all()) {
          list.push_back(
              {{"type", b->name()}, {"help", b->help()}, {"priority", b->priority()}, {"params", nlohmann::json::array()}});
        }
        return nlohmann::json{{"backends", list}};
      },
      "auto         the first one below (the default)\n");
}

void add_optimizers_command(CLI::App& app, Action& action) {
  add_listing_command(app, action, "optimizers", "list every registered optimizer with its options and defaults", [] {
    nlohmann::json list = nlohmann::json::array();
    for (const OptimizerInfo* info : OptimizerRegistry::instance().all()) {
      nlohmann::json options = nlohmann::json::array();
      options.push_back({{"name", "lr"}, {"kind", "number"}, {"help", "learning rate, scaled by /schedule"},
                         {"range", "> 0"}, {"default", info->default_learning_rate}});
      for (const auto& o : info->options) options.push_back(describe_option(o));
      options.push_back(describe_max_norm_option());  // every optimizer's (optim/max_norm.h)
      list.push_back({{"type", info->type}, {"help", info->help}, {"params", options}});
    }
    return nlohmann::json{{"optimizers", list}};
  });
}

}  // namespace gradflow::cli
