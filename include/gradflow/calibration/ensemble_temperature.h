#pragma once
// Ensemble temperature scaling (Zhang, Kailkhura & Han 2020, "Mix-n-Match"): a mixture of the
// temperature-scaled, the raw and the uniform predictions,
//   p = w₁·softmax(z / T) + w₂·softmax(z / T₀) + w₃·(1/C),   w on the simplex,
// T fitted first by temperature scaling, T₀ the head's own temperature, then w fitted on the
// validation NLL. The NLL is convex in w, and the mixture components are fixed, so the EM update
//   w_j ← mean_i w_j·q_ij / Σ_k w_k·q_ik   (q_ij: component j's probability of label i)
// never leaves the simplex and climbs to the global optimum. It stops when the KKT conditions
// hold: with g_j = ∂NLL/∂w_j = −mean_i q_ij / Σ_k w_k q_ik (and Σ_j w_j g_j = −1),
// w_j·|g_j + 1| < 1e-7 for every j and g_j + 1 > −1e-5 for a weight that went to 0.
#include <array>

#include "gradflow/calibration/calibrator.h"

namespace gradflow {

class EnsembleTemperature : public Calibrator {
 public:
  EnsembleTemperature(double temperature, double raw_temperature, const std::array<double, 3>& weights);
  std::string method() const override { return "ensemble_temperature"; }
  MatrixT<double> probabilities(const Matrix& logits) const override;
  Eigen::VectorXd sample_nll(const Matrix& logits, const Labels& labels) const override;
  nlohmann::json parameters() const override;
  const std::array<double, 3>& weights() const { return weights_; }

 private:
  double temperature_, raw_temperature_;
  std::array<double, 3> weights_;  // calibrated, raw, uniform
};

// log q_ij: (N, 3) the log-probability of each sample's label under each component.
MatrixT<double> ensemble_component_log_probabilities(const Matrix& logits, const Labels& labels, double temperature,
                                                     double raw_temperature);
// The mean NLL of the mixture with weights w (any positive w; the gradient is the unconstrained one).
double mixture_nll(const MatrixT<double>& log_q, const Eigen::Vector3d& w, Eigen::Vector3d& gradient);

struct MixtureFit {
  std::array<double, 3> weights{};
  int iterations = 0;
  bool converged = false;
  double kkt = 0;  // the largest violation of the conditions above
};
MixtureFit fit_mixture_weights(const MatrixT<double>& log_q, int max_iterations = 20000);

std::unique_ptr<EnsembleTemperature> fit_ensemble_temperature(const Matrix& logits, const Labels& labels,
                                                              double raw_temperature);

}  // namespace gradflow
