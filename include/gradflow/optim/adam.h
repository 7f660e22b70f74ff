#pragma once
// Adam with PyTorch's semantics (torch.optim.Adam, Kingma & Ba 2015), per parameter, at step t:
//   g = grad + weight_decay * p                 (coupled weight decay, L2 in the loss)
//   m = beta1 * m + (1 - beta1) * g             (m, v start at 0)
//   v = beta2 * v + (1 - beta2) * g²
//   v̂ = amsgrad ? (v_max = max(v_max, v)) : v
//   p -= lr / (1 - beta1^t) * m / (sqrt(v̂) / sqrt(1 - beta2^t) + eps)
// Config: {"type": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
//          "weight_decay": 0, "amsgrad": false}.
// State: "exp_avg" (m), "exp_avg_sq" (v), with amsgrad "max_exp_avg_sq"; the step count t.
#include <vector>

#include "gradflow/optim/optimizer.h"

namespace gradflow {

class Adam : public Optimizer {
 public:
  Adam(std::vector<TensorView<float>> parameters, const nlohmann::json& resolved);

  std::vector<std::string> formula() const override;
  std::vector<std::pair<std::string, double>> terms(double lr) const override;
  nlohmann::json scalars() const override { return {{"step", steps_}}; }
  void set_scalars(const nlohmann::json& scalars) override;

  int64_t steps() const { return steps_; }  // updates taken so far

 protected:
  bool update_parameters(double lr, std::vector<double>* update_norms) override;

  // How weight decay enters an update at `lr`: added to the gradient (`coupled`, Adam), or as
  // p *= 1 - lr * decoupled before it (AdamW).
  struct Decay {
    double coupled = 0.0;
    double decoupled = 0.0;
  };
  virtual Decay decay() const { return {weight_decay_, 0.0f}; }
  // The formula's line for weight decay.
  virtual std::string decay_formula() const { return "g = ∂L/∂W + λ·W            (λ: weight_decay)"; }

  double weight_decay_;

 private:
  double beta1_, beta2_, eps_;
  bool amsgrad_;
  int64_t steps_ = 0;
};

}  // namespace gradflow
