#pragma once
// Softmax and log-sum-exp of one row of logits z at inverse temperature u = 1/T, the one place
// gradflow writes them (the head, the calibration metrics, temperature fitting and the stepper
// all call these). The maximum m is subtracted first, so every exponent is <= 0 and nothing
// overflows:
//   s          = Σ_j exp((z_j − m)·u)          (>= 1: the max term contributes exp(0))
//   softmax_k  = exp((z_k − m)·u) / s
//   logsumexp  = m·u + log s
// A loss logsumexp(z·u) − z_y·u is best formed as log s + (m − z_y)·u: both terms are >= 0, so
// nothing cancels, where m·u + log s − z_y·u loses the small loss beside a large m.
#include "gradflow/eigen.h"
#include <cmath>

namespace gradflow {

// What both functions return about a row: m, where it is, and log s.
template <typename Scalar>
struct LogSumExp {
  Scalar max = 0;           // m
  Eigen::Index argmax = 0;  // the first index holding m
  double log_sum = 0;       // log s; logsumexp(z·u) = m·u + log_sum
};

// z: (C) or (1, C), a row of logits -> its log-sum-exp, without storing the exponentials.
template <typename Derived>
LogSumExp<typename Derived::Scalar> log_sum_exp(const Eigen::DenseBase<Derived>& z, typename Derived::Scalar u) {
  LogSumExp<typename Derived::Scalar> r;
  r.max = z.maxCoeff(&r.argmax);
  r.log_sum = std::log(static_cast<double>(((z.derived().array() - r.max) * u).exp().sum()));
  return r;
}

// z: (C) or (1, C), a row of logits -> p: the same shape, softmax(z·u); returns what
// log_sum_exp would. `p` may be a block of a larger matrix (a row), written in place.
template <typename Derived, typename Out>
LogSumExp<typename Derived::Scalar> softmax(const Eigen::DenseBase<Derived>& z, typename Derived::Scalar u,
                                            const Eigen::DenseBase<Out>& p_out) {
  auto& p = const_cast<Eigen::DenseBase<Out>&>(p_out).derived();  // Eigen's idiom for writable blocks
  LogSumExp<typename Derived::Scalar> r;
  r.max = z.maxCoeff(&r.argmax);
  p.array() = ((z.derived().array() - r.max) * u).exp();
  const auto sum = p.sum();
  p.array() /= sum;
  r.log_sum = std::log(static_cast<double>(sum));
  return r;
}

}  // namespace gradflow
