#include "gradflow/optim/optimizer.h"

#include <algorithm>
#include <cstdio>

#include "gradflow/errors.h"
#include "gradflow/json_check.h"
#include "gradflow/optim/max_norm.h"

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

bool Optimizer::step(double lr, std::vector<double>* update_norms) {
  const bool finite = update_parameters(lr, update_norms);
  if (finite && max_norm_ > 0) apply_max_norm(parameters_, max_norm_);
  return finite;
}

void Optimizer::set_max_norm(double c) {
  max_norm_ = c;
  if (c > 0) {
    options_[kMaxNormOption] = c;
  } else {
    options_.erase(kMaxNormOption);  // off: nothing to show beside the optimizer's own options
  }
}

std::vector<std::string> Optimizer::update_rule() const {
  std::vector<std::string> lines = formula();
  if (max_norm_ > 0) {
    char c[64];
    std::snprintf(c, sizeof c, "%g", max_norm_);
    lines.push_back(std::string("w_j ← w_j · min(1, c/‖w_j‖)   (every row of a dense W; c: max_norm = ") + c + ")");
  }
  return lines;
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
  std::vector<std::string> known = also_known;
  known.push_back(kMaxNormOption);  // every optimizer's, not declared by each
  nlohmann::json resolved = resolve_options(spec, path, type, info.options, known);
  if (info.validate) info.validate(resolved, path);
  resolved[kMaxNormOption] = resolve_max_norm(spec, path);
  return resolved;
}

std::unique_ptr<Optimizer> OptimizerRegistry::create(std::vector<TensorView<float>> parameters,
                                                     const nlohmann::json& resolved) const {
  const std::string type = resolved.at("type").get<std::string>();
  const OptimizerInfo* info = find(type);
  if (info == nullptr) throw InputError("unknown optimizer type \"" + type + "\"");
  std::unique_ptr<Optimizer> optimizer = info->make(std::move(parameters), resolved);
  if (const auto c = resolved.find(kMaxNormOption); c != resolved.end()) {
    optimizer->set_max_norm(c->is_number() ? c->get<double>() : 0.0);
  }
  return optimizer;
}

}  // namespace gradflow
