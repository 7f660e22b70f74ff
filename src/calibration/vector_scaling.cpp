#include "gradflow/calibration/vector_scaling.h"

#include <cmath>

#include "gradflow/errors.h"
#include "gradflow/softmax.h"

namespace gradflow {

VectorScaling::VectorScaling(Eigen::VectorXd scale, Eigen::VectorXd bias) : scale_(std::move(scale)), bias_(std::move(bias)) {}

MatrixT<double> VectorScaling::probabilities(const Matrix& logits) const {
  if (logits.cols() != scale_.size()) {
    throw InputError("vector scaling has " + std::to_string(scale_.size()) + " classes, the logits " +
                     std::to_string(logits.cols()));
  }
  MatrixT<double> p(logits.rows(), logits.cols());
  Eigen::RowVectorXd u(logits.cols());
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    u = logits.row(i).cast<double>().cwiseProduct(scale_.transpose()) + bias_.transpose();
    softmax(u, 1.0, p.row(i));
  }
  return p;
}

Eigen::VectorXd VectorScaling::sample_nll(const Matrix& logits, const Labels& labels) const {
  Eigen::VectorXd nll(logits.rows());
  Eigen::RowVectorXd u(logits.cols());
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    u = logits.row(i).cast<double>().cwiseProduct(scale_.transpose()) + bias_.transpose();
    const LogSumExp<double> row = log_sum_exp(u, 1.0);
    nll[i] = row.log_sum + (row.max - u(labels[i]));
  }
  return nll;
}

nlohmann::json VectorScaling::parameters() const {
  return {{"scale", std::vector<double>(scale_.data(), scale_.data() + scale_.size())},
          {"bias", std::vector<double>(bias_.data(), bias_.data() + bias_.size())}};
}

double vector_scaling_nll(const Matrix& logits, const Labels& labels, const Eigen::VectorXd& x, Eigen::VectorXd& gradient) {
  const Eigen::Index c = logits.cols();
  const Eigen::ArrayXd w = x.head(c).array().exp();
  const Eigen::ArrayXd b = x.tail(c).array();
  gradient.setZero(2 * c);
  Eigen::ArrayXd z(c), u(c), q(c);
  double nll = 0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    z = logits.row(i).cast<double>().transpose().array();
    u = w * z + b;
    const LogSumExp<double> row = softmax(u, 1.0, q);
    nll += row.log_sum + (row.max - u[labels[i]]);
    q[labels[i]] -= 1;  // ∂NLL_i/∂u = q − onehot(y)
    gradient.head(c).array() += q * w * z;
    gradient.tail(c).array() += q;
  }
  const double n = static_cast<double>(logits.rows());
  gradient /= n;
  return nll / n;
}

std::unique_ptr<VectorScaling> fit_vector_scaling(const Matrix& logits, const Labels& labels, double initial_temperature,
                                                  const MinimizeOptions& options) {
  if (logits.rows() == 0) throw InputError("vector scaling needs at least one sample");
  if (!logits.allFinite()) throw InputError("logits contain non-finite values; cannot fit vector scaling");
  const Eigen::Index c = logits.cols();
  Eigen::VectorXd x0(2 * c);
  x0.head(c).setConstant(-std::log(initial_temperature));
  x0.tail(c).setZero();
  const Objective nll = [&](const Eigen::VectorXd& x, Eigen::VectorXd& g) { return vector_scaling_nll(logits, labels, x, g); };
  Eigen::VectorXd unused(2 * c), at_identity(2 * c);
  at_identity.setZero();
  const double nll_before = nll(at_identity, unused);
  const MinimizeResult r = minimize_lbfgs(nll, x0, options);
  auto fitted = std::make_unique<VectorScaling>(r.x.head(c).array().exp().matrix(), r.x.tail(c));
  fitted->fit = {{"iterations", r.iterations}, {"converged", r.converged}, {"gradient", r.gradient_norm},
                 {"nll_before", nll_before}, {"nll_after", r.value}, {"initial_temperature", initial_temperature}};
  return fitted;
}

}  // namespace gradflow
