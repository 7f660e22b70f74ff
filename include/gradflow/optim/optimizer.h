#pragma once
// The Optimizer interface: one update of every trained tensor from the gradients they hold.
// Optimizers are registered by name from their own source file, like layers:
//
//   GRADFLOW_REGISTER_OPTIMIZER(Adam, "adam", "Adam, like torch.optim.Adam", /*default lr*/ 1e-3,
//       /*validate*/ nullptr, {{"beta1", OptionSpec::Number, 0.9, {0, 1, false, true}, "decay of m"}});
//
// and chosen in a config by {"optimizer": {"type": "adam", "lr": 0.001, ...}}. The learning rate
// is not an option of the optimizer: the schedule (optim/schedule.h) passes it to every step.
//
// State: an optimizer keeps named state tensors, one of each per parameter and of its shape
// (SGD: "momentum"; Adam: "exp_avg", "exp_avg_sq"), plus scalars (Adam's step count).
// Resumable checkpoints store the tensors as "optimizer.<state>.<parameter>" and the scalars in
// the metadata, so a resumed run continues bit for bit, whatever the optimizer.
//
// Every optimizer also takes "max_norm" (optim/max_norm.h): step() runs the optimizer's own
// update_parameters() and then the constraint, so each optimizer has it without knowing of it.
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "gradflow/option_schema.h"
#include "gradflow/registry.h"
#include "gradflow/tensor.h"

namespace gradflow {

// One named state tensor of every parameter, all in one block in parameter order, laid out like
// the parameters themselves: when they lie in one block (a model's parameter block), an update is
// one pass over the parameters, the gradients and each state block together.
struct OptimizerState {
  std::string name;            // "momentum", "exp_avg", ... (PyTorch's names)
  std::string symbol;          // as the update rule names it: "v", "m", ...
  std::vector<float> block;    // every parameter's state, one after another
  std::vector<int64_t> offset;  // parameter k's state starts at block[offset[k]], of its size
  float* of(size_t k) { return block.data() + offset[k]; }
  const float* of(size_t k) const { return block.data() + offset[k]; }
};

// What one fused update pass over a range of parameters reports.
struct UpdatePass {
  double squared_update = 0.0;  // ||update||² over the range, when asked for
  bool finite = true;           // every gradient in the range was finite
};

class Optimizer {
 public:
  // `options`: the resolved options (type included) of a registered optimizer.
  Optimizer(std::vector<TensorView<float>> parameters, nlohmann::json options);
  virtual ~Optimizer() = default;

  // The registered type name and the resolved options, e.g. {"type": "sgd", "momentum": 0.9, ...}.
  const std::string& type() const { return type_; }
  const nlohmann::json& options() const { return options_; }

  // One update at learning rate `lr` from the gradients the parameters hold (update_parameters()),
  // then the max-norm constraint when set. Returns false when some gradient was not finite: the parameters
  // are then not finite either (training has diverged). With `update_norms`, also records
  // ||update|| per parameter: the optimizer's update, before the constraint rescales any row.
  bool step(double lr, std::vector<double>* update_norms = nullptr);

  // The max-norm radius c (optim/max_norm.h), 0: off. Set by OptimizerRegistry::create from the
  // resolved "max_norm"; options() holds it when set.
  double max_norm() const { return max_norm_; }
  void set_max_norm(double c);

  // The update rule in a few lines of math, for `gradflow step` ("m = β₁·m + (1 − β₁)·g", ...).
  virtual std::vector<std::string> formula() const = 0;
  // formula() and, with max_norm, the constraint's line.
  std::vector<std::string> update_rule() const;
  // The scalars the next update at `lr` uses beyond the options (Adam: the step count t, the bias
  // corrections and the effective step size), in the order to show them, for `gradflow step`.
  virtual std::vector<std::pair<std::string, double>> terms(double /*lr*/) const { return {}; }

  const std::vector<TensorView<float>>& parameters() const { return parameters_; }
  std::vector<OptimizerState>& state() { return state_; }
  const std::vector<OptimizerState>& state() const { return state_; }
  // Non-tensor state (Adam's step count), saved in the checkpoint's metadata.
  virtual nlohmann::json scalars() const { return nlohmann::json::object(); }
  virtual void set_scalars(const nlohmann::json& /*scalars*/) {}

  // Every parameter and every gradient one after another in memory, in order: an update then runs
  // as one pass over a single range, element for element the same arithmetic.
  bool contiguous() const { return contiguous_; }

 protected:
  // The optimizer's own update (step() without the constraint): what each optimizer implements.
  virtual bool update_parameters(double lr, std::vector<double>* update_norms) = 0;

  // Adds a state tensor of every parameter, zero-filled; `symbol` is its name in formula().
  void add_state(const std::string& name, const std::string& symbol);

  // Runs `pass(value, gradient, offset, n, with_norm)` -> UpdatePass over the parameters: once over
  // the whole block when they are contiguous and no norms are asked for, else once per parameter.
  // `offset` is where the range starts in every state block (they are laid out like the
  // parameters). Records ||update|| per parameter in `update_norms`; returns whether every
  // gradient was finite. Every optimizer's update_parameters() is this call around its own fused
  // kernel.
  template <typename Pass>
  bool for_each_range(std::vector<double>* update_norms, Pass&& pass) {
    if (update_norms == nullptr && contiguous_) {
      return pass(parameters_.front().value, parameters_.front().gradient, int64_t(0), total_size_, false).finite;
    }
    if (update_norms) update_norms->assign(parameters_.size(), 0.0);
    bool finite = true;
    for (size_t k = 0; k < parameters_.size(); ++k) {
      const TensorView<float>& p = parameters_[k];
      const UpdatePass result = pass(p.value, p.gradient, offsets_[k], p.size(), update_norms != nullptr);
      if (update_norms) (*update_norms)[k] = std::sqrt(result.squared_update);
      finite = finite && result.finite;
    }
    return finite;
  }

  std::vector<TensorView<float>> parameters_;

 private:
  bool contiguous_ = false;
  std::vector<int64_t> offsets_;  // parameter k starts offsets_[k] elements into the whole range
  int64_t total_size_ = 0;
  double max_norm_ = 0.0;
  std::string type_;
  nlohmann::json options_;
  std::vector<OptimizerState> state_;
};

struct OptimizerInfo {
  std::string type;
  std::string help;
  double default_learning_rate = 0.1;  // when the config gives no /optimizer/lr
  std::vector<OptionSpec> options;
  // Checks the options together, after each was checked alone (ConfigError naming `path`).
  std::function<void(const nlohmann::json& resolved, const std::string& path)> validate;
  std::function<std::unique_ptr<Optimizer>(std::vector<TensorView<float>> parameters, const nlohmann::json& resolved)> make;
};

class OptimizerRegistry {
 public:
  static OptimizerRegistry& instance();

  // Returns true for a new type; a second registration of a type is reported by check() (registry.h).
  bool add(OptimizerInfo info, const std::string& file = "");
  void check() const { optimizers_.check(); }
  const OptimizerInfo* find(const std::string& type) const;
  std::vector<const OptimizerInfo*> all() const;  // sorted by type name

  // Checks a config's optimizer object at `path` ("type" defaults to "sgd"; keys in
  // `also_known` — the learning rate — are allowed and left out); returns it with defaults filled.
  nlohmann::json resolve(const nlohmann::json& spec, const std::string& path,
                         const std::vector<std::string>& also_known = {}) const;
  std::unique_ptr<Optimizer> create(std::vector<TensorView<float>> parameters, const nlohmann::json& resolved) const;

 private:
  Registry<OptimizerInfo> optimizers_{"optimizer"};
};

// The optimizer a resolved spec describes, over `parameters`.
inline std::unique_ptr<Optimizer> make_optimizer(std::vector<TensorView<float>> parameters,
                                                 const nlohmann::json& resolved) {
  return OptimizerRegistry::instance().create(std::move(parameters), resolved);
}

}  // namespace gradflow

// `Class` is constructed as Class(std::vector<TensorView<float>> parameters, const json& resolved);
// `validate` is a function (const json& resolved, const std::string& path) or nullptr.
#define GRADFLOW_REGISTER_OPTIMIZER(Class, type_name, help, default_lr, validate, ...)                    \
  [[maybe_unused]] static const bool gradflow_registered_optimizer_##Class =                              \
      ::gradflow::OptimizerRegistry::instance().add(::gradflow::OptimizerInfo{                            \
          type_name, help, default_lr, std::vector<::gradflow::OptionSpec> __VA_ARGS__, validate,         \
          [](std::vector<::gradflow::TensorView<float>> parameters, const nlohmann::json& resolved)       \
              -> std::unique_ptr<::gradflow::Optimizer> {                                                  \
            return std::make_unique<Class>(std::move(parameters), resolved);                               \
          }}, __FILE__)
