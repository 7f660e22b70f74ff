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

  return resolve_options(spec, path, type, info.params);
}

}  // namespace gradflow
