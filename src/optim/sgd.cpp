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
struct Pass {
  double squared_update = 0.0;  // ||update||^2, when asked for
  bool finite = true;           // every gradient finite
};

// One fused pass over a tensor: memory traffic, not arithmetic, bounds this update, so every
// quantity is read and written once. The OpenMP split only changes the order of the (logged)
// norm's summation, never a parameter.
template <bool kMomentum, bool kNesterov, bool kNorm>
Pass update(float* p, const float* g, float* v, int64_t n, float rate, float decay, float mu) {
  double squared = 0.0;
  float poison = 0.0f;  // stays 0 unless some g is inf or NaN (then g * 0 is NaN)
#pragma omp parallel for simd reduction(+ : squared, poison) schedule(static) if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) {
    poison += g[i] * 0.0f;
    const float gi = g[i] + decay * p[i];  // coupled weight decay
    float step = gi;
    if constexpr (kMomentum) {
      const float vi = mu * v[i] + gi;
      v[i] = vi;
      step = kNesterov ? gi + mu * vi : vi;
    }
    step *= rate;
    p[i] -= step;
    if constexpr (kNorm) squared += static_cast<double>(step) * static_cast<double>(step);
  }
  return {squared, poison == 0.0f};
}

template <bool kNorm>
Pass update(const TensorView<float>& view, float* velocity, float rate, float decay, float mu, bool nesterov) {
  if (velocity == nullptr) return update<false, false, kNorm>(view.value, view.gradient, nullptr, view.size(), rate, decay, mu);
  if (nesterov) return update<true, true, kNorm>(view.value, view.gradient, velocity, view.size(), rate, decay, mu);
  return update<true, false, kNorm>(view.value, view.gradient, velocity, view.size(), rate, decay, mu);
}
}  // namespace

bool Sgd::step(double lr, std::vector<double>* update_norms) {
  if (update_norms) update_norms->assign(parameters_.size(), 0.0);
  const float rate = static_cast<float>(lr);
  const float decay = static_cast<float>(options_.weight_decay);
  const float mu = static_cast<float>(options_.momentum);
  bool finite = true;
  for (size_t k = 0; k < parameters_.size(); ++k) {
    float* velocity = mu == 0.0f ? nullptr : velocity_[k].data();
    const Pass pass = update_norms ? update<true>(parameters_[k], velocity, rate, decay, mu, options_.nesterov)
                                   : update<false>(parameters_[k], velocity, rate, decay, mu, options_.nesterov);
    if (update_norms) (*update_norms)[k] = std::sqrt(pass.squared_update);
    finite = finite && pass.finite;
  }
  return finite;
}

}  // namespace gradflow
