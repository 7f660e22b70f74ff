#include "gradflow/optim/sgd.h"

#include <cmath>

#include "gradflow/errors.h"

namespace gradflow {

nlohmann::json SgdOptions::to_json() const {
  return {{"type", "sgd"}, {"momentum", momentum}, {"nesterov", nesterov}, {"weight_decay", weight_decay}};
}

Sgd::Sgd(std::vector<TensorView<float>> parameters, SgdOptions options)
    : Optimizer(std::move(parameters), options.to_json()), sgd_(options) {
  if (sgd_.momentum != 0.0) add_state("momentum", "v");
}

Sgd::Sgd(std::vector<TensorView<float>> parameters, const nlohmann::json& resolved)
    : Sgd(std::move(parameters), SgdOptions{resolved.at("momentum").get<double>(), resolved.at("weight_decay").get<double>(),
                                            resolved.at("nesterov").get<bool>()}) {}

namespace {
// One fused pass over a tensor: memory traffic, not arithmetic, bounds this update, so every
// quantity is read and written once. The OpenMP split only changes the order of the (logged)
// norm's summation, never a parameter.
template <bool kMomentum, bool kNesterov, bool kNorm>
UpdatePass update(float* p, const float* g, float* v, int64_t n, float rate, float decay, float mu) {
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
UpdatePass update(float* p, const float* g, int64_t n, float* velocity, float rate, float decay, float mu, bool nesterov) {
  if (velocity == nullptr) return update<false, false, kNorm>(p, g, nullptr, n, rate, decay, mu);
  if (nesterov) return update<true, true, kNorm>(p, g, velocity, n, rate, decay, mu);
  return update<true, false, kNorm>(p, g, velocity, n, rate, decay, mu);
}
}  // namespace

bool Sgd::update_parameters(double lr, std::vector<double>* update_norms) {
  const float rate = static_cast<float>(lr);
  const float decay = static_cast<float>(sgd_.weight_decay);
  const float mu = static_cast<float>(sgd_.momentum);
  float* momentum = state().empty() ? nullptr : state()[0].block.data();
  return for_each_range(update_norms, [&](float* p, const float* g, int64_t offset, int64_t n, bool norm) {
    float* velocity = momentum == nullptr ? nullptr : momentum + offset;
    return norm ? update<true>(p, g, n, velocity, rate, decay, mu, sgd_.nesterov)
                : update<false>(p, g, n, velocity, rate, decay, mu, sgd_.nesterov);
  });
}

std::vector<std::string> Sgd::formula() const {
  std::vector<std::string> lines{"g = ∂L/∂W + λ·W            (λ: weight_decay)"};
  if (sgd_.momentum == 0.0) {
    lines.push_back("W ← W − lr·g");
  } else {
    lines.push_back("v = μ·v + g                 (μ: momentum; v starts at 0, so the first v = g)");
    lines.push_back(sgd_.nesterov ? "W ← W − lr·(g + μ·v)        (Nesterov)" : "W ← W − lr·v");
  }
  return lines;
}

namespace {
void validate_sgd(const nlohmann::json& resolved, const std::string& path) {
  if (resolved.at("nesterov").get<bool>() && resolved.at("momentum").get<double>() == 0.0) {
    throw ConfigError(path + "/nesterov", "Nesterov momentum needs " + path + "/momentum > 0");
  }
}
}  // namespace

GRADFLOW_REGISTER_OPTIMIZER(Sgd, "sgd", "stochastic gradient descent, like torch.optim.SGD (dampening 0)", 0.1, validate_sgd,
                            {{"momentum", OptionSpec::Number, 0.0, {0, 1, false, true}, "momentum μ", {}},
                             {"nesterov", OptionSpec::Boolean, false, {}, "Nesterov momentum (needs momentum > 0)", {}},
                             {"weight_decay", OptionSpec::Number, 0.0, {0, 1e3}, "L2 penalty λ, added to the gradient", {}}});

}  // namespace gradflow
