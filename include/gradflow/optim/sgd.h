#pragma once
// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD, dampening 0):
//   g = grad + weight_decay * p          (coupled weight decay)
//   v = momentum * v + g                 (v starts at 0, so the first step has v = g)
//   p -= lr * (nesterov ? g + momentum * v : v)
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

struct SgdOptions {
  double momentum = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class Sgd {
 public:
  Sgd(std::vector<TensorView<float>> parameters, SgdOptions options);

  // One update at learning rate `lr` from the gradients currently held by the parameters, in a
  // single pass over each tensor. Returns false when some gradient was not finite (inf or NaN):
  // the parameters are then not finite either, and training has diverged. With `update_norms`,
  // also records ||update|| per parameter (for gradient-flow logs).
  bool step(double lr, std::vector<double>* update_norms = nullptr);

  const std::vector<TensorView<float>>& parameters() const { return parameters_; }
  // One momentum buffer per parameter, same size; empty before the first step.
  std::vector<std::vector<float>>& momentum_buffers() { return velocity_; }
  const SgdOptions& options() const { return options_; }

 private:
  std::vector<TensorView<float>> parameters_;
  SgdOptions options_;
  std::vector<std::vector<float>> velocity_;
};

}  // namespace gradflow
