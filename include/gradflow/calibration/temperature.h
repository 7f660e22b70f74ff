#pragma once
// Temperature scaling: one scalar T > 0 with p = softmax(z / T), fitted on held-out logits by
// minimising the NLL over s = log T (so T > 0 always) with a safeguarded Newton method:
//   with u = 1/T,  dNLL/ds = −u·mean(E_p[z] − z_y),  d²NLL/ds² = u·mean(E_p[z] − z_y) + u²·mean(Var_p[z])
// The NLL is convex in u, so it has one minimum in s; a bracket [a, b] with dNLL/ds < 0 at a and
// > 0 at b always holds it, and every Newton step that leaves the bracket becomes a bisection.
// The search stops at |dNLL/ds| < tolerance. Dividing logits by T never changes an argmax.
#include <nlohmann/json.hpp>
#include <string>

#include "gradflow/tensor.h"

namespace gradflow {

struct TemperatureOptions {
  double min_temperature = 0.05;
  double max_temperature = 20.0;
  double tolerance = 1e-6;  // on |dNLL/d log T|
  int max_iterations = 100;
};

struct TemperatureFit {
  double temperature = 1;
  int iterations = 0;
  double nll_before = 0;  // at T = 1
  double nll_after = 0;   // at the fitted T
  double gradient = 0;    // dNLL/d log T at the fitted T
  std::string bound;      // "", "lower" or "upper": the optimum lies on (or beyond) that bound
  nlohmann::json to_json() const;
};

// logits: (N, C), labels: (N). InputError for non-finite logits or an empty set.
TemperatureFit fit_temperature(const Matrix& logits, const Labels& labels, const TemperatureOptions& options = {});

// The NLL of softmax(z / T) and its first two derivatives with respect to log T.
struct NllDerivatives {
  double nll, first, second;
};
NllDerivatives nll_derivatives(const Matrix& logits, const Labels& labels, double temperature);

}  // namespace gradflow
