#pragma once
// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD, dampening 0):
//   g = grad + weight_decay * p          (coupled weight decay)
//   v = momentum * v + g                 (v starts at 0, so the first step has v = g)
//   p -= lr * (nesterov ? g + momentum * v : v)
// Config: {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": false, "weight_decay": 0}.
// State: "momentum" (v), only when momentum > 0.
#include <vector>

#include "gradflow/optim/optimizer.h"

namespace gradflow {

struct SgdOptions {
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  nlohmann::json to_json() const;  // the resolved options, type included
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<TensorView<float>> parameters, SgdOptions options);
  Sgd(std::vector<TensorView<float>> parameters, const nlohmann::json& resolved);

  std::vector<std::string> formula() const override;

  const SgdOptions& sgd_options() const { return sgd_; }

 protected:
  bool update_parameters(double lr, std::vector<double>* update_norms) override;

 private:
  SgdOptions sgd_;
};

}  // namespace gradflow
