#include "gradflow/calibration/temperature.h"

#include <cmath>

#include "gradflow/errors.h"
#include "gradflow/softmax.h"

namespace gradflow {

nlohmann::json TemperatureFit::to_json() const {
  nlohmann::json j{{"temperature", temperature}, {"iterations", iterations}, {"nll_before", nll_before},
                   {"nll_after", nll_after}, {"gradient", gradient}};
  j["bound"] = bound.empty() ? nlohmann::json(nullptr) : nlohmann::json(bound);
  return j;
}

NllDerivatives nll_derivatives(const Matrix& logits, const Labels& labels, double temperature) {
  const double u = 1.0 / temperature;
  double nll = 0, a = 0, v = 0;
  Eigen::ArrayXd z(logits.cols()), p(logits.cols());
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    z = logits.row(i).cast<double>().transpose().array();
    const LogSumExp<double> row = softmax(z, u, p);
    const double mean_z = (p * z).sum();  // E_p[z]
    nll += row.log_sum + (row.max - z[labels[i]]) * u;
    a += mean_z - z[labels[i]];
    v += (p * (z - mean_z).square()).sum();  // Var_p[z]
  }
  const double n = static_cast<double>(logits.rows());
  nll /= n;
  a /= n;
  v /= n;
  return {nll, -u * a, u * a + u * u * v};
}

TemperatureFit fit_temperature(const Matrix& logits, const Labels& labels, const TemperatureOptions& options) {
  if (logits.rows() == 0) throw InputError("temperature scaling needs at least one sample");
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    if (!logits.row(i).allFinite()) {
      throw InputError("logits of sample " + std::to_string(i) + " are not finite; cannot fit a temperature");
    }
  }
  TemperatureFit fit;
  fit.nll_before = nll_derivatives(logits, labels, 1.0).nll;

  double lo = std::log(options.min_temperature), hi = std::log(options.max_temperature);
  const NllDerivatives at_lo = nll_derivatives(logits, labels, std::exp(lo));
  const NllDerivatives at_hi = nll_derivatives(logits, labels, std::exp(hi));
  auto finish = [&](double s, const NllDerivatives& d, std::string bound) {
    fit.temperature = std::exp(s);
    fit.nll_after = d.nll;
    fit.gradient = d.first;
    fit.bound = std::move(bound);
    return fit;
  };
  // the NLL still falls at a bound: the optimum lies on it (or beyond it)
  if (at_lo.first >= 0) return finish(lo, at_lo, "lower");
  if (at_hi.first <= 0) return finish(hi, at_hi, "upper");

  double s = 0.0;  // T = 1
  if (s <= lo || s >= hi) s = 0.5 * (lo + hi);
  NllDerivatives d = nll_derivatives(logits, labels, std::exp(s));
  while (fit.iterations < options.max_iterations && std::fabs(d.first) >= options.tolerance) {
    ++fit.iterations;
    // keep the bracket: dNLL/ds < 0 at lo, > 0 at hi
    if (d.first < 0) lo = s; else hi = s;
    double next = d.second > 0 ? s - d.first / d.second : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);  // Newton left the bracket: bisect
    s = next;
    d = nll_derivatives(logits, labels, std::exp(s));
  }
  return finish(s, d, "");
}

}  // namespace gradflow
