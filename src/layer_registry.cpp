#include "gradflow/layer_registry.h"

#include "gradflow/errors.h"

namespace gradflow {

LayerRegistry& LayerRegistry::instance() {
  static LayerRegistry registry;
  return registry;
}

bool LayerRegistry::add(LayerInfo info) {
  const std::string type = info.type;
  layers_[type] = std::move(info);
  return true;
}

const LayerInfo* LayerRegistry::find(const std::string& type) const {
  auto it = layers_.find(type);
  return it == layers_.end() ? nullptr : &it->second;
}

std::vector<const LayerInfo*> LayerRegistry::all() const {
  std::vector<const LayerInfo*> out;
  for (const auto& item : layers_) out.push_back(&item.second);
  return out;
}

int64_t LayerRegistry::output_size(const nlohmann::json& resolved_spec, int64_t input) const {
  return find(resolved_spec.at("type").get<std::string>())->output_size(resolved_spec, input);
}

nlohmann::json LayerRegistry::resolve(const nlohmann::json& spec, const std::string& path) const {
  namespace jc = json_check;
  jc::expect_object(spec, path);
  std::vector<std::string> types;
  for (const auto& item : layers_) types.push_back(item.first);
  const std::string type = jc::string(spec, "type", path, std::nullopt, types);
  const LayerInfo& info = *find(type);

  std::vector<std::string> known{"type"};
  for (const auto& p : info.params) known.push_back(p.name);
  jc::reject_unknown_keys(spec, path, known);

  nlohmann::json resolved{{"type", type}};
  for (const auto& p : info.params) {
    const bool required = p.default_value.is_null();
    switch (p.kind) {
      case LayerParam::Integer:
        resolved[p.name] = jc::integer(spec, p.name, path,
                                       required ? std::nullopt : std::optional<int64_t>(p.default_value.get<int64_t>()),
                                       p.range);
        break;
      case LayerParam::Number:
        resolved[p.name] = jc::number(spec, p.name, path,
                                      required ? std::nullopt : std::optional<double>(p.default_value.get<double>()),
                                      p.range);
        break;
      case LayerParam::Boolean:
        resolved[p.name] = jc::boolean(spec, p.name, path,
                                       required ? std::nullopt : std::optional<bool>(p.default_value.get<bool>()));
        break;
      case LayerParam::String:
        resolved[p.name] = jc::string(
            spec, p.name, path, required ? std::nullopt : std::optional<std::string>(p.default_value.get<std::string>()),
            p.choices);
        break;
    }
  }
  return resolved;
}

}  // namespace gradflow
