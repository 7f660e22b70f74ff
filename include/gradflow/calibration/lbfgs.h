#pragma once
// A small L-BFGS minimiser for the calibrators' few parameters (Nocedal & Wright, Algorithm 7.4:
// two-loop recursion over the last `memory` steps, backtracking Armijo line search). A step whose
// value is not finite is shortened like one that does not decrease enough; a direction that is
// not downhill, or a curvature pair with s·y <= 0, restarts from steepest descent.
#include <functional>

#include "gradflow/eigen.h"

namespace gradflow {

// Returns f(x) and writes ∇f(x) into `gradient` (sized like x).
using Objective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd& gradient)>;

struct MinimizeOptions {
  double tolerance = 1e-6;  // on max |∂f/∂x_i|
  int max_iterations = 1000;
  int memory = 10;
};

struct MinimizeResult {
  Eigen::VectorXd x;
  double value = 0;
  double gradient_norm = 0;  // max |∂f/∂x_i| at x
  int iterations = 0;
  bool converged = false;  // gradient_norm < tolerance
};

MinimizeResult minimize_lbfgs(const Objective& f, Eigen::VectorXd x, const MinimizeOptions& options = {});

}  // namespace gradflow
