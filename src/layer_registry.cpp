#include "gradflow/layer_registry.h"

#include "gradflow/errors.h"

namespace gradflow {

LayerRegistry& LayerRegistry::instance() {
  static LayerRegistry registry;
  return registry;
}

bool LayerRegistry::add(LayerInfo info, const std::string& file) {
  const std::string type = info.type;
  info.plugin = current_plugin();
  return layers_.add(type, std::move(info), file);
}

const LayerInfo* LayerRegistry::find(const std::string& type) const { return layers_.find(type); }

std::vector<const LayerInfo*> LayerRegistry::all() const { return layers_.all(); }

int64_t LayerRegistry::output_size(const nlohmann::json& resolved_spec, int64_t input) const {
  return find(resolved_spec.at("type").get<std::string>())->output_size(resolved_spec, input);
}

nlohmann::json LayerRegistry::resolve(const nlohmann::json& spec, const std::string& path) const {
  namespace jc = json_check;
  check();
  jc::expect_object(spec, path);
  const std::string type = jc::string(spec, "type", path, std::nullopt, layers_.names());
  const LayerInfo& info = *find(type);

  return resolve_options(spec, path, type, info.params);
}

}  // namespace gradflow
