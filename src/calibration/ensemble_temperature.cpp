#include "gradflow/calibration/ensemble_temperature.h"

#include <cmath>

#include "gradflow/calibration/metrics.h"
#include "gradflow/calibration/temperature.h"
#include "gradflow/errors.h"
#include "gradflow/softmax.h"

namespace gradflow {

EnsembleTemperature::EnsembleTemperature(double temperature, double raw_temperature, const std::array<double, 3>& weights)
    : temperature_(temperature), raw_temperature_(raw_temperature), weights_(weights) {}

MatrixT<double> EnsembleTemperature::probabilities(const Matrix& logits) const {
  const double uniform = 1.0 / static_cast<double>(logits.cols());
  return (weights_[0] * softmax(logits, temperature_) + weights_[1] * softmax(logits, raw_temperature_)).array() +
         weights_[2] * uniform;
}

Eigen::VectorXd EnsembleTemperature::sample_nll(const Matrix& logits, const Labels& labels) const {
  const MatrixT<double> log_q = ensemble_component_log_probabilities(logits, labels, temperature_, raw_temperature_);
  Eigen::VectorXd nll(logits.rows());
  for (Eigen::Index i = 0; i < log_q.rows(); ++i) {
    // −log Σ_j w_j q_ij in log space: a component whose q underflows costs nothing
    double m = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < 3; ++j) {
      if (weights_[static_cast<size_t>(j)] > 0) m = std::max(m, log_q(i, j) + std::log(weights_[static_cast<size_t>(j)]));
    }
    double s = 0;
    for (int j = 0; j < 3; ++j) {
      if (weights_[static_cast<size_t>(j)] > 0) s += std::exp(log_q(i, j) + std::log(weights_[static_cast<size_t>(j)]) - m);
    }
    nll[i] = -(m + std::log(s));
  }
  return nll;
}

nlohmann::json EnsembleTemperature::parameters() const {
  return {{"temperature", temperature_}, {"raw_temperature", raw_temperature_},
          {"weights", {weights_[0], weights_[1], weights_[2]}},
          {"components", {"softmax(z / temperature)", "softmax(z / raw_temperature)", "uniform"}}};
}

MatrixT<double> ensemble_component_log_probabilities(const Matrix& logits, const Labels& labels, double temperature,
                                                     double raw_temperature) {
  MatrixT<double> log_q(logits.rows(), 3);
  const double log_uniform = -std::log(static_cast<double>(logits.cols()));
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    const auto z = logits.row(i).cast<double>();
    for (int j = 0; j < 2; ++j) {
      const double u = 1.0 / (j == 0 ? temperature : raw_temperature);
      const LogSumExp<double> row = log_sum_exp(z, u);
      log_q(i, j) = -(row.log_sum + (row.max - z(labels[i])) * u);
    }
    log_q(i, 2) = log_uniform;
  }
  return log_q;
}

double mixture_nll(const MatrixT<double>& log_q, const Eigen::Vector3d& w, Eigen::Vector3d& gradient) {
  gradient.setZero();
  double nll = 0;
  const Eigen::Index n = log_q.rows();
  for (Eigen::Index i = 0; i < n; ++i) {
    // scaled by exp(−max log q) so nothing underflows; the scale cancels in q_ij / Σ_k w_k q_ik
    const double m = log_q.row(i).maxCoeff();
    const Eigen::Vector3d q = (log_q.row(i).array() - m).exp().transpose();
    const double mix = w.dot(q);
    nll -= m + std::log(mix);
    gradient -= q / mix;  // ∂(−log Σ w_k q_k)/∂w_j = −q_j / Σ w_k q_k
  }
  gradient /= static_cast<double>(n);
  return nll / static_cast<double>(n);
}

MixtureFit fit_mixture_weights(const MatrixT<double>& log_q, int max_iterations) {
  MixtureFit fit;
  // q_ij scaled by exp(−max_j log q_ij), once: the scale cancels in the gradient's q_ij / Σ_k w_k q_ik
  const MatrixT<double> q = (log_q.colwise() - log_q.rowwise().maxCoeff()).array().exp().matrix();
  const double n = static_cast<double>(q.rows());
  auto gradient_at = [&](const Eigen::Vector3d& at) -> Eigen::Vector3d {
    const Eigen::VectorXd mix = q * at;  // (N)
    return -(q.array().colwise() / mix.array()).colwise().sum().transpose() / n;
  };
  auto kkt_violation = [&](const Eigen::Vector3d& at, const Eigen::Vector3d& grad) {
    double worst = 0;
    for (int j = 0; j < 3; ++j) {
      worst = std::max(worst, at[j] * std::fabs(grad[j] + 1) / 1e-7);  // complementary slackness, scaled to 1
      worst = std::max(worst, -(grad[j] + 1) / 1e-5);                    // no weight would gain
    }
    return worst;
  };
  Eigen::Vector3d w = Eigen::Vector3d::Constant(1.0 / 3.0);
  Eigen::Vector3d g = gradient_at(w);
  while (fit.iterations < max_iterations && kkt_violation(w, g) >= 1) {
    ++fit.iterations;
    w = w.cwiseProduct(-g);  // EM: w_j·mean_i q_ij / Σ_k w_k q_ik
    w /= w.sum();            // the sum is already 1 up to rounding
    g = gradient_at(w);
  }
  fit.kkt = kkt_violation(w, g);
  fit.converged = fit.kkt < 1;
  for (int j = 0; j < 3; ++j) fit.weights[static_cast<size_t>(j)] = w[j];
  return fit;
}

std::unique_ptr<EnsembleTemperature> fit_ensemble_temperature(const Matrix& logits, const Labels& labels,
                                                              double raw_temperature) {
  const TemperatureFit t = fit_temperature(logits, labels);
  const MatrixT<double> log_q = ensemble_component_log_probabilities(logits, labels, t.temperature, raw_temperature);
  const MixtureFit m = fit_mixture_weights(log_q);
  Eigen::Vector3d unused;
  auto fitted = std::make_unique<EnsembleTemperature>(t.temperature, raw_temperature, m.weights);
  fitted->fit = {{"iterations", m.iterations},
                 {"converged", m.converged && t.bound.empty()},
                 {"kkt_violation", m.kkt},
                 {"temperature_fit", t.to_json()},
                 {"nll_before", mixture_nll(log_q, Eigen::Vector3d(0, 1, 0), unused)},
                 {"nll_after", mixture_nll(log_q, Eigen::Vector3d(m.weights[0], m.weights[1], m.weights[2]), unused)}};
  return fitted;
}

}  // namespace gradflow
