#include "gradflow/calibration/lbfgs.h"

#include <cmath>
#include <deque>

namespace gradflow {

MinimizeResult minimize_lbfgs(const Objective& f, Eigen::VectorXd x, const MinimizeOptions& options) {
  MinimizeResult r;
  Eigen::VectorXd g(x.size()), g_next(x.size());
  double value = f(x, g);
  std::deque<Eigen::VectorXd> s_list, y_list;
  while (r.iterations < options.max_iterations && g.lpNorm<Eigen::Infinity>() >= options.tolerance) {
    ++r.iterations;
    // two-loop recursion: d = −H·g
    Eigen::VectorXd q = g;
    std::vector<double> alpha(s_list.size());
    for (size_t i = s_list.size(); i-- > 0;) {
      alpha[i] = s_list[i].dot(q) / y_list[i].dot(s_list[i]);
      q -= alpha[i] * y_list[i];
    }
    if (!s_list.empty()) q *= s_list.back().dot(y_list.back()) / y_list.back().squaredNorm();
    for (size_t i = 0; i < s_list.size(); ++i) q += (alpha[i] - y_list[i].dot(q) / y_list[i].dot(s_list[i])) * s_list[i];
    Eigen::VectorXd d = -q;
    if (!(d.dot(g) < 0)) {  // not downhill: steepest descent, forget the curvature
      s_list.clear();
      y_list.clear();
      d = -g;
    }
    // the first step of steepest descent is scaled to move x by at most 1
    double step = s_list.empty() ? std::min(1.0, 1.0 / d.norm()) : 1.0;
    const double slope = d.dot(g);
    Eigen::VectorXd x_next;
    double value_next = 0;
    bool accepted = false;
    for (int tries = 0; tries < 60; ++tries, step *= 0.5) {
      x_next = x + step * d;
      value_next = f(x_next, g_next);
      if (std::isfinite(value_next) && g_next.allFinite() && value_next <= value + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;  // no decrease along a descent direction: at the floor of rounding
    Eigen::VectorXd s = x_next - x, y = g_next - g;
    if (s.dot(y) > 1e-16 * s.norm() * y.norm()) {
      s_list.push_back(std::move(s));
      y_list.push_back(std::move(y));
      if (static_cast<int>(s_list.size()) > options.memory) s_list.pop_front(), y_list.pop_front();
    }
    x = std::move(x_next);
    g = g_next;
    value = value_next;
  }
  r.x = std::move(x);
  r.value = value;
  r.gradient_norm = g.lpNorm<Eigen::Infinity>();
  r.converged = r.gradient_norm < options.tolerance;
  return r;
}

}  // namespace gradflow
