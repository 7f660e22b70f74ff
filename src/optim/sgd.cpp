#include "gradflow/optim/sgd.h"

#include <cmath>

namespace gradflow {

Sgd::Sgd(std::vector<TensorView<float>> parameters, SgdOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  if (options_.momentum != 0.0) {
    for (const auto& p : parameters_) velocity_.emplace_back(static_cast<size_t>(p.size()), 0.0f);
  }
}

namespace {
// One fused pass over a tensor: memory traffic, not arithmetic, bounds this update, so every
// quantity is read and written once. Returns ||update||^2. The OpenMP split only changes the
// order of the (logged) norm's summation, never a parameter.
template <bool kMomentum, bool kNesterov>
double update(float* p, const float* g, float* v, int64_t n, float rate, float decay, float mu) {
  double squared = 0.0;
#pragma omp parallel for simd reduction(+ : squared) schedule(static) if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + decay * p[i];  // coupled weight decay
    float step = gi;
    if constexpr (kMomentum) {
      const float vi = mu * v[i] + gi;
      v[i] = vi;
      step = kNesterov ? gi + mu * vi : vi;
    }
    step *= rate;
    p[i] -= step;
    squared += static_cast<double>(step) * static_cast<double>(step);
  }
  return squared;
}
}  // namespace

void Sgd::step(double lr, std::vector<double>* update_norms) {
  if (update_norms) update_norms->assign(parameters_.size(), 0.0);
  const float rate = static_cast<float>(lr);
  const float decay = static_cast<float>(options_.weight_decay);
  const float mu = static_cast<float>(options_.momentum);
  for (size_t k = 0; k < parameters_.size(); ++k) {
    const auto& view = parameters_[k];
    double squared = 0.0;
    if (mu == 0.0f) {
      squared = update<false, false>(view.value, view.gradient, nullptr, view.size(), rate, decay, mu);
    } else if (options_.nesterov) {
      squared = update<true, true>(view.value, view.gradient, velocity_[k].data(), view.size(), rate, decay, mu);
    } else {
      squared = update<true, false>(view.value, view.gradient, velocity_[k].data(), view.size(), rate, decay, mu);
    }
    if (update_norms) (*update_norms)[k] = std::sqrt(squared);
  }
}

}  // namespace gradflow
