#include "gradflow/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace gradflow {

bool GradCheckResult::passed() const { return worst() <= tolerance; }

double GradCheckResult::worst() const {
  double w = 0;
  for (const auto& t : tensors) w = std::max(w, t.max_relative_error);
  return w;
}

nlohmann::json GradCheckResult::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : tensors) {
    list.push_back({{"name", t.name},
                    {"shape", t.shape},
                    {"checked", t.checked},
                    {"analytic_norm", t.analytic_norm},
                    {"max_relative_error", t.max_relative_error},
                    {"passed", t.max_relative_error <= tolerance}});
  }
  return {{"tensors", list}, {"tolerance", tolerance}, {"max_relative_error", worst()}, {"passed", passed()},
          {"training_mode", training_mode}};
}

nlohmann::json GradCheckResult::entries_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& t : tensors) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : t.entries) list.push_back({e.index, e.analytic, e.numeric});
    out[t.name] = std::move(list);
  }
  return out;
}

double relative_error(double analytic, double numeric, double floor) {
  return std::fabs(analytic - numeric) / std::max({std::fabs(analytic), std::fabs(numeric), floor});
}

double max_central_difference_error(const std::function<double()>& loss, double* values, const double* analytic,
                                    const std::vector<int64_t>& entries, double step, double floor,
                                    std::vector<double>* numeric) {
  double worst = 0.0;
  for (int64_t i : entries) {
    const double saved = values[i];
    values[i] = saved + step;
    const double plus = loss();
    values[i] = saved - step;
    const double minus = loss();
    values[i] = saved;
    const double difference = (plus - minus) / (2 * step);
    if (numeric) numeric->push_back(difference);
    worst = std::max(worst, relative_error(analytic[i], difference, floor));
  }
  return worst;
}

double max_central_difference_error(const std::function<double()>& loss, double* values, const double* analytic,
                                    int64_t n, double step, double floor) {
  std::vector<int64_t> every(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::iota(every.begin(), every.end(), int64_t(0));
  return max_central_difference_error(loss, values, analytic, every, step, floor);
}

namespace {

// Which entries of a tensor of `size` to check: all of them, or a seeded sample plus the largest.
std::vector<int64_t> pick_entries(const double* gradient, int64_t size, const GradCheckOptions& options,
                                  std::mt19937_64& rng) {
  std::vector<int64_t> entries;
  if (options.entries_per_tensor <= 0 || size <= options.entries_per_tensor) {
    entries.resize(static_cast<size_t>(size));
    std::iota(entries.begin(), entries.end(), int64_t(0));
    return entries;
  }
  int64_t largest = 0;
  for (int64_t i = 1; i < size; ++i) {
    if (std::fabs(gradient[i]) > std::fabs(gradient[largest])) largest = i;
  }
  entries.push_back(largest);
  std::uniform_int_distribution<int64_t> any(0, size - 1);
  while (static_cast<int64_t>(entries.size()) < options.entries_per_tensor) entries.push_back(any(rng));
  return entries;
}

TensorCheck check_tensor(const std::string& name, std::vector<int64_t> shape, double* values, const double* gradient,
                         int64_t size, const std::function<double()>& loss, const GradCheckOptions& options,
                         std::mt19937_64& rng) {
  TensorCheck check{name, std::move(shape), 0, 0, 0, {}};
  check.analytic_norm = Eigen::Map<const Eigen::VectorXd>(gradient, size).norm();
  const std::vector<int64_t> entries = pick_entries(gradient, size, options, rng);
  std::vector<double> numeric;
  check.max_relative_error =
      max_central_difference_error(loss, values, gradient, entries, options.step, options.floor, &numeric);
  check.checked = static_cast<int64_t>(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) check.entries.push_back({entries[k], gradient[entries[k]], numeric[k]});
  return check;
}

}  // namespace

GradCheckResult check_gradients(Sequential<float>& model, const Matrix& x, const Labels& labels,
                                const GradCheckOptions& options) {
  Sequential<double> twin(model.describe());
  copy_state(model, twin);
  // Training mode checks the backward that training uses (batch statistics in batch_norm); with a
  // random layer (dropout) every evaluation would differ, so the check runs in eval mode.
  bool deterministic = true;
  for (size_t i = 0; i < twin.size(); ++i) deterministic = deterministic && twin.layer(i).deterministic_in_training();
  twin.set_training(deterministic);
  MatrixT<double> input = x.cast<double>();
  MatrixT<double> input_gradient;
  twin.forward_loss(input, labels);
  twin.backward(&input_gradient);

  auto loss = [&] { return twin.forward_loss(input, labels); };
  std::mt19937_64 rng(options.seed);
  GradCheckResult result;
  result.tolerance = options.tolerance;
  result.training_mode = deterministic;
  for (auto& p : twin.parameters()) {
    const std::vector<double> analytic(p.gradient, p.gradient + p.size());
    result.tensors.push_back(check_tensor(p.name, p.shape, p.value, analytic.data(), p.size(), loss, options, rng));
  }
  result.tensors.push_back(check_tensor("input", {input.rows(), input.cols()}, input.data(), input_gradient.data(),
                                        input.size(), loss, options, rng));
  return result;
}

}  // namespace gradflow
