#pragma once
// Vector scaling (Guo et al. 2017): a scale and a bias per class on the logits,
//   p = softmax(w ⊙ z + b),  w_k = exp(a_k) > 0,
// fitted by minimising the mean validation NLL over (a, b) with L-BFGS (lbfgs.h), started at
// temperature scaling's optimum (a = −log T, b = 0). The scales are positive by construction, so
// each class's logit still rises with the model's own. The NLL does not change when the same
// constant is added to every b_k; its gradient in that direction is 0, so the fit keeps Σ b_k = 0
// from its start. With u = w ⊙ z + b and q = softmax(u):
//   ∂NLL/∂a_k = mean_i (q_ik − y_ik)·w_k·z_ik,   ∂NLL/∂b_k = mean_i (q_ik − y_ik)
#include "gradflow/calibration/calibrator.h"
#include "gradflow/calibration/lbfgs.h"

namespace gradflow {

class VectorScaling : public Calibrator {
 public:
  VectorScaling(Eigen::VectorXd scale, Eigen::VectorXd bias);
  std::string method() const override { return "vector"; }
  MatrixT<double> probabilities(const Matrix& logits) const override;
  Eigen::VectorXd sample_nll(const Matrix& logits, const Labels& labels) const override;
  nlohmann::json parameters() const override;
  const Eigen::VectorXd& scale() const { return scale_; }
  const Eigen::VectorXd& bias() const { return bias_; }

 private:
  Eigen::VectorXd scale_, bias_;  // (C) each
};

// The mean NLL at x = [a (C), b (C)] and its gradient (written into `gradient`, sized 2C).
double vector_scaling_nll(const Matrix& logits, const Labels& labels, const Eigen::VectorXd& x, Eigen::VectorXd& gradient);

// logits: (N, C). The fit's record (iterations, converged, gradient, NLL before and after) is in `fit`.
std::unique_ptr<VectorScaling> fit_vector_scaling(const Matrix& logits, const Labels& labels, double initial_temperature,
                                                  const MinimizeOptions& options = {});

}  // namespace gradflow
