#include "gradflow/optim/sgd.h"

#include <Eigen/Core>

namespace gradflow {

Sgd::Sgd(std::vector<TensorView<float>> parameters, SgdOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  if (options_.momentum != 0.0) {
    for (const auto& p : parameters_) velocity_.emplace_back(static_cast<size_t>(p.size()), 0.0f);
  }
}

void Sgd::step(double lr, std::vector<double>* update_norms) {
  if (update_norms) update_norms->assign(parameters_.size(), 0.0);
  using Array = Eigen::Map<Eigen::ArrayXf>;
  const float rate = static_cast<float>(lr);
  const float decay = static_cast<float>(options_.weight_decay);
  const float mu = static_cast<float>(options_.momentum);
  for (size_t k = 0; k < parameters_.size(); ++k) {
    const auto& view = parameters_[k];
    Array p(view.value, view.size());
    Array g(view.gradient, view.size());
    if (decay != 0.0f) g += decay * p;  // the gradient buffer is overwritten by the next backward
    if (mu == 0.0f) {
      if (update_norms) (*update_norms)[k] = (rate * g).matrix().norm();
      p -= rate * g;
      continue;
    }
    Array v(velocity_[k].data(), view.size());
    v = mu * v + g;
    if (options_.nesterov) {
      if (update_norms) (*update_norms)[k] = (rate * (g + mu * v)).matrix().norm();
      p -= rate * (g + mu * v);
    } else {
      if (update_norms) (*update_norms)[k] = (rate * v).matrix().norm();
      p -= rate * v;
    }
  }
}

}  // namespace gradflow
