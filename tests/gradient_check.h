#pragma once
// Finite-difference checks in double precision, shared by the layer, head and model tests.
// Relative error |a - n| / max(|a|, |n|, 1e-3) per element (entries below 1e-3 are compared
// absolutely, where round-off dominates). Central differences with h = 1e-5 leave an error near
// 1e-10, so a tolerance of 1e-6 is far below what any wrong formula produces (see the test that
// perturbs one gradient entry by 0.1%).
#include <algorithm>
#include <functional>

#include "gradflow/gradcheck.h"
#include "gradflow/layer.h"

namespace gradflow::testing {

using MatD = MatrixT<double>;

// Largest relative error between `analytic` and the central difference of `loss` with respect to
// each of the `n` values at `values` (the library's loop, gradcheck.h, with this file's h and floor).
inline double max_fd_error(const std::function<double()>& loss, double* values, const double* analytic, int64_t n,
                           double h = 1e-5) {
  return max_central_difference_error(loss, values, analytic, n, h, 1e-3);
}

// A scalar loss L = sum(y .* weights) for a layer, so dL/dy = weights: a fixed random matrix.
struct LayerProbe {
  Layer<double>& layer;
  MatD x;
  MatD weights;  // (B, out)
  MatD y = {};   // (B, out): the latest forward's output, kept for backward as a model keeps it

  double loss() {
    layer.forward(x, y);
    return (y.array() * weights.array()).sum();
  }
  // Runs forward + backward; returns dL/dx and leaves parameter gradients in the layer.
  MatD backward() {
    loss();
    MatD dx;
    layer.backward(x, y, weights, &dx);
    return dx;
  }
  double input_gradient_error() {
    MatD dx = backward();
    return max_fd_error([&] { return loss(); }, x.data(), dx.data(), x.size());
  }
  // Worst error over every parameter tensor of the layer.
  double parameter_gradient_error() {
    backward();
    double worst = 0.0;
    for (auto& p : layer.parameters()) {
      std::vector<double> analytic(p.gradient, p.gradient + p.size());
      worst = std::max(worst, max_fd_error([&] { return loss(); }, p.value, analytic.data(), p.size()));
    }
    return worst;
  }
};

}  // namespace gradflow::testing
