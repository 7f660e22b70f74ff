#include "gradflow/optim/max_norm.h"

#include <cmath>

#include "gradflow/json_check.h"

namespace gradflow {

nlohmann::json resolve_max_norm(const nlohmann::json& spec, const std::string& path) {
  if (!spec.contains(kMaxNormOption) || spec.at(kMaxNormOption).is_null()) return nullptr;
  return json_check::number(spec, kMaxNormOption, path, std::nullopt, json_check::above(0));
}

nlohmann::json describe_max_norm_option() {
  return {{"name", kMaxNormOption},
          {"kind", "number"},
          {"help", "max-norm constraint c: after each update, every row of a dense weight is rescaled to norm <= c"},
          {"range", json_check::above(0).describe()},
          {"default", nullptr}};
}

void apply_max_norm(const std::vector<TensorView<float>>& parameters, double max_norm) {
  for (const TensorView<float>& p : parameters) {
    if (p.shape.size() != 2) continue;  // a bias, batch norm's γ or β
    const int64_t rows = p.shape[0], cols = p.shape[1];
    float* w = p.value;
#pragma omp parallel for schedule(static) if (rows * cols >= (int64_t(1) << 16))
    for (int64_t r = 0; r < rows; ++r) {
      float* row = w + r * cols;
      double squared = 0.0;
      for (int64_t c = 0; c < cols; ++c) squared += static_cast<double>(row[c]) * static_cast<double>(row[c]);
      const double norm = std::sqrt(squared);
      if (!(norm > max_norm)) continue;  // within the ball, or not finite (the step reports that)
      const auto scale = static_cast<float>(max_norm / norm);
      for (int64_t c = 0; c < cols; ++c) row[c] *= scale;
    }
  }
}

}  // namespace gradflow
