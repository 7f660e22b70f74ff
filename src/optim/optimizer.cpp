#include "gradflow/optim/optimizer.h"

#include <algorithm>

#include "gradflow/errors.h"
#include "gradflow/json_check.h"

namespace gradflow {

Optimizer::Optimizer(std::vector<TensorView<float>> parameters, nlohmann::json options)
    : parameters_(std::move(parameters)), type_(options.at("type").get<std::string>()), options_(std::move(options)) {
  contiguous_ = !parameters_.empty();
  for (size_t k = 1; k < parameters_.size(); ++k) {
    const TensorView<float>& before = parameters_[k - 1];
    contiguous_ = contiguous_ && parameters_[k].value == before.value + before.size() &&
                  parameters_[k].gradient == before.gradient + before.size();
  }
  for (const auto& p : parameters_) {
    offsets_.push_back(total_size_);
    total_size_ += p.size();
  }
}


void Optimizer::add_state(const std::string& name, const std::string& symbol) {
  OptimizerState s{name, symbol, std::vector<float>(static_cast<size_t>(total_size_), 0.0f), offsets_};
  state_.push_back(std::move(s));
}

OptimizerRegistry& OptimizerRegistry::instance() {
  static OptimizerRegistry registry;
  return registry;
}

bool OptimizerRegistry::add(OptimizerInfo info, const std::string& file) {
  const std::string type = info.type;
  return optimizers_.add(type, std::move(info), file);
}

const OptimizerInfo* OptimizerRegistry::find(const std::string& type) const { return optimizers_.find(type); }

std::vector<const OptimizerInfo*> OptimizerRegistry::all() const { return optimizers_.all(); }

nlohmann::json OptimizerRegistry::resolve(const nlohmann::json& spec, const std::string& path,
                                          const std::vector<std::string>& also_known) const {
  namespace jc = json_check;
  check();
  jc::expect_object(spec, path);
  const std::string type = jc::string(spec, "type", path, std::string("sgd"), optimizers_.names());
  const OptimizerInfo& info = *find(type);
  // an option of another optimizer (left over from switching with --set optimizer.type=...)
  for (const auto& item : spec.items()) {
    const auto declared = [&](const OptimizerInfo& i) {
      return std::any_of(i.options.begin(), i.options.end(), [&](const OptionSpec& o) { return o.name == item.key(); });
    };
    if (item.key() == "type" || declared(info) ||
        std::find(also_known.begin(), also_known.end(), item.key()) != also_known.end()) {
      continue;
    }
    for (const OptimizerInfo* other : all()) {
      if (declared(*other)) {
        throw ConfigError(jc::join(path, item.key()), "an option of " + other->type + ", not of " + type +
                                                          " (remove it: --set " + path.substr(1) + "." + item.key() + "=null)");
      }
    }
  }
  nlohmann::json resolved = resolve_options(spec, path, type, info.options, also_known);
  if (info.validate) info.validate(resolved, path);
  return resolved;
}

std::unique_ptr<Optimizer> OptimizerRegistry::create(std::vector<TensorView<float>> parameters,
                                                     const nlohmann::json& resolved) const {
  const std::string type = resolved.at("type").get<std::string>();
  const OptimizerInfo* info = find(type);
  if (info == nullptr) throw InputError("unknown optimizer type \"" + type + "\"");
  return info->make(std::move(parameters), resolved);
}

}  // namespace gradflow
