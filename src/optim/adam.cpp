#include "gradflow/optim/adam.h"

#include <cmath>

#include "gradflow/errors.h"

namespace gradflow {

Adam::Adam(std::vector<TensorView<float>> parameters, const nlohmann::json& resolved)
    : Optimizer(std::move(parameters), resolved),
      weight_decay_(resolved.at("weight_decay").get<double>()),
      beta1_(resolved.at("beta1").get<double>()),
      beta2_(resolved.at("beta2").get<double>()),
      eps_(resolved.at("eps").get<double>()),
      amsgrad_(resolved.at("amsgrad").get<bool>()) {
  add_state("exp_avg", "m");
  add_state("exp_avg_sq", "v");
  if (amsgrad_) add_state("max_exp_avg_sq", "v_max");
}

void Adam::set_scalars(const nlohmann::json& scalars) {
  if (!scalars.contains("step") || !scalars["step"].is_number_integer() || scalars["step"].get<int64_t>() < 0) {
    throw InputError("the optimizer state holds no valid Adam step count: " + scalars.dump());
  }
  steps_ = scalars["step"].get<int64_t>();
}

namespace {
// The scalars of one update, shared by every element.
struct Coefficients {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float step_size;             // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  float eps;
  float coupled;               // weight decay added to the gradient
  float shrink;                // 1 - lr * decoupled weight decay
};

// One fused pass over a tensor (memory traffic bounds it). The order of operations is torch's
// (foreach=False) up to m, which torch updates with lerp: within a few ulps (tests/test_optim.cpp).
template <bool kAmsgrad, bool kNorm>
UpdatePass update(float* p, const float* grad, float* m, float* v, float* v_max, int64_t n, const Coefficients& c) {
  double squared = 0.0;
  float poison = 0.0f;  // stays 0 unless some gradient is inf or NaN
#pragma omp parallel for simd reduction(+ : squared, poison) schedule(static) if (n >= (int64_t(1) << 16))
  for (int64_t i = 0; i < n; ++i) {
    poison += grad[i] * 0.0f;
    const float before = p[i];
    const float shrunk = before * c.shrink;
    const float g = grad[i] + c.coupled * before;
    const float mi = m[i] * c.beta1 + c.one_minus_beta1 * g;
    const float vi = v[i] * c.beta2 + c.one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float v_hat = vi;
    if constexpr (kAmsgrad) {
      v_hat = v_max[i] > vi ? v_max[i] : vi;
      v_max[i] = v_hat;
    }
    const float denominator = std::sqrt(v_hat) / c.bias_correction2_sqrt + c.eps;
    p[i] = shrunk - c.step_size * (mi / denominator);
    if constexpr (kNorm) {
      const double change = static_cast<double>(p[i]) - static_cast<double>(before);
      squared += change * change;
    }
  }
  return {squared, poison == 0.0f};
}
}  // namespace

bool Adam::update_parameters(double lr, std::vector<double>* update_norms) {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const Decay d = decay();
  const Coefficients c{static_cast<float>(beta1_),
                       static_cast<float>(beta2_),
                       static_cast<float>(1.0 - beta1_),
                       static_cast<float>(1.0 - beta2_),
                       static_cast<float>(lr / (1.0 - std::pow(beta1_, t))),
                       static_cast<float>(std::sqrt(1.0 - std::pow(beta2_, t))),
                       static_cast<float>(eps_),
                       static_cast<float>(d.coupled),
                       static_cast<float>(1.0 - lr * d.decoupled)};  // as torch: the factor in double, then float
  float* m = state()[0].block.data();
  float* v = state()[1].block.data();
  float* v_max = amsgrad_ ? state()[2].block.data() : nullptr;
  return for_each_range(update_norms, [&](float* p, const float* g, int64_t offset, int64_t n, bool norm) {
    float* v_max_range = v_max == nullptr ? nullptr : v_max + offset;
    if (amsgrad_) {
      return norm ? update<true, true>(p, g, m + offset, v + offset, v_max_range, n, c)
                  : update<true, false>(p, g, m + offset, v + offset, v_max_range, n, c);
    }
    return norm ? update<false, true>(p, g, m + offset, v + offset, v_max_range, n, c)
                : update<false, false>(p, g, m + offset, v + offset, v_max_range, n, c);
  });
}

std::vector<std::string> Adam::formula() const {
  return {decay_formula(),
          "m = β₁·m + (1 − β₁)·g,   v = β₂·v + (1 − β₂)·g²   (m, v start at 0)",
          amsgrad_ ? "v̂ = v_max = max(v_max, v)   (amsgrad)" : "v̂ = v",
          "W ← W − α_t · m / (√v̂ + ε·√(1 − β₂ᵗ))",
          "α_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)   (the effective step size; t counts the updates)"};
}

std::vector<std::pair<std::string, double>> Adam::terms(double lr) const {
  const double t = static_cast<double>(steps_ + 1);
  const double bias_correction1 = 1.0 - std::pow(beta1_, t);
  const double bias_correction2 = 1.0 - std::pow(beta2_, t);
  // Kingma & Ba's α_t: the update is α_t · m / (√v̂ + ε·√(1 − β₂ᵗ)), about α_t·m/√v̂
  return {{"t", static_cast<double>(steps_ + 1)},
          {"bias_correction1", bias_correction1},
          {"bias_correction2", bias_correction2},
          {"effective_step_size", lr * std::sqrt(bias_correction2) / bias_correction1}};
}

GRADFLOW_REGISTER_OPTIMIZER(Adam, "adam", "Adam, like torch.optim.Adam (weight decay added to the gradient)", 1e-3, nullptr,
                            {{"beta1", OptionSpec::Number, 0.9, {0, 1, false, true}, "decay β₁ of the gradient's running mean", {}},
                             {"beta2", OptionSpec::Number, 0.999, {0, 1, false, true}, "decay β₂ of its running square", {}},
                             {"eps", OptionSpec::Number, 1e-8, {0, 1, true, false}, "ε added to the denominator", {}},
                             {"weight_decay", OptionSpec::Number, 0.0, {0, 1e3}, "L2 penalty λ, added to the gradient", {}},
                             {"amsgrad", OptionSpec::Boolean, false, {}, "use the maximum of past v (AMSGrad)", {}}});

}  // namespace gradflow
