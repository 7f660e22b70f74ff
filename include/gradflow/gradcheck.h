#pragma once
// Finite-difference gradient checks of a whole model, in double precision: the model is copied
// into Sequential<double> (the same layer code, instantiated for double), its analytic gradients
// are computed by backward, and compared entry by entry with central differences
//   n = (L(p + h) - L(p - h)) / 2h,   error = |a - n| / max(|a|, |n|, floor)
// For large tensors a seeded sample of entries is checked, always including the largest.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/model.h"

namespace gradflow {

struct GradCheckOptions {
  int64_t entries_per_tensor = 32;  // <= 0: every entry
  double step = 1e-5;               // h
  double floor = 1e-3;              // entries below it are compared absolutely
  double tolerance = 1e-6;
  uint64_t seed = 0;
};

struct TensorCheck {
  std::string name;  // "0.weight", ..., or "input"
  std::vector<int64_t> shape;
  int64_t checked = 0;
  double analytic_norm = 0;
  double max_relative_error = 0;
  // every checked entry: its flat index (row-major), the analytic and the finite-difference value
  struct Checked {
    int64_t index = 0;
    double analytic = 0, numeric = 0;
  };
  std::vector<Checked> entries;
};

struct GradCheckResult {
  std::vector<TensorCheck> tensors;
  double tolerance = 0;
  bool training_mode = true;  // false: a random layer (dropout) made the check run in eval mode
  bool passed() const;
  double worst() const;
  nlohmann::json to_json() const;
  // {"0.weight": [[flat index, analytic, finite difference], ...], ..., "input": [...]}
  nlohmann::json entries_json() const;
};

// Relative error with the floor: |a - n| / max(|a|, |n|, floor).
double relative_error(double analytic, double numeric, double floor);

// The finite-difference loop every gradient check uses (this one, the layer tests'): for each
// index i in `entries`, the central difference n_i = (L(v_i + h) - L(v_i - h)) / 2h of `loss`
// with respect to values[i] (restored afterwards), compared with analytic[i]. Returns the
// largest relative error. `analytic` is read while `loss` runs: it must not point into storage
// that `loss` rewrites. With `numeric`, each entry's finite difference is appended to it.
double max_central_difference_error(const std::function<double()>& loss, double* values, const double* analytic,
                                    const std::vector<int64_t>& entries, double step, double floor,
                                    std::vector<double>* numeric = nullptr);
// The same over every one of the `n` values.
double max_central_difference_error(const std::function<double()>& loss, double* values, const double* analytic,
                                    int64_t n, double step, double floor);

// Checks d(mean loss)/d(every parameter tensor) and d(mean loss)/dx on the batch (x, labels), in
// training mode, or in eval mode when a layer is random in training (dropout).
// The model is left untouched.
GradCheckResult check_gradients(Sequential<float>& model, const Matrix& x, const Labels& labels,
                                const GradCheckOptions& options = {});

}  // namespace gradflow
