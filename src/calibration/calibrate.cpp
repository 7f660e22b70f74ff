#include "gradflow/calibration/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "gradflow/calibration/seeded_random.h"
#include "gradflow/checkpoint.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"

namespace gradflow {

nlohmann::json Assessment::to_json() const {
  nlohmann::json j = metrics.to_json();
  j["estimators"] = estimators.to_json();
  return j;
}

Assessment assess(const Calibrator& calibrator, const Matrix& logits, const Labels& labels, const CalibrationSettings& settings) {
  if (!logits.allFinite()) throw InputError("logits contain non-finite values");
  Assessment a;
  const MatrixT<double> p = calibrator.probabilities(logits);
  const Eigen::VectorXd nll = calibrator.sample_nll(logits, labels);
  a.metrics = metrics_from_probabilities(p, labels, settings.bins);
  if (nll.size() > 0) a.metrics.nll = nll.mean();  // from log space, exact where p underflows
  a.estimators = calibration_estimators(p, labels, settings.bins, settings.noise_replicates, settings.seed);
  a.scores = sample_scores(p, labels, settings.bins, nll);
  return a;
}

size_t CalibrationComparison::best() const {
  const std::vector<double>& by = cross_validated_nll.empty() ? validation_nll : cross_validated_nll;
  return static_cast<size_t>(std::min_element(by.begin(), by.end()) - by.begin());
}

namespace {

nlohmann::json with_intervals(const Assessment& a, const FigureIntervals& intervals) {
  nlohmann::json j = a.to_json();
  j["intervals"] = intervals_json(intervals);
  return j;
}

// The mean NLL of `method` over K folds of (logits, labels), each fold scored by the calibrator
// fitted on the others; the folds are a seeded shuffle of the samples.
double cross_validated_nll(const std::string& method, const Matrix& logits, const Labels& labels, double raw_temperature,
                           int folds, uint64_t seed) {
  const Eigen::Index n = logits.rows();
  std::vector<Eigen::Index> order(static_cast<size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  SeededRandom random(seed, 0xF01D);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);  // Fisher–Yates
  double total = 0;
  for (int f = 0; f < folds; ++f) {
    std::vector<Eigen::Index> fit_rows, held_rows;
    for (size_t r = 0; r < order.size(); ++r) (static_cast<int>(r % static_cast<size_t>(folds)) == f ? held_rows : fit_rows).push_back(order[r]);
    auto gather = [&](const std::vector<Eigen::Index>& rows, Matrix& z, Labels& y) {
      z.resize(static_cast<Eigen::Index>(rows.size()), logits.cols());
      y.resize(static_cast<Eigen::Index>(rows.size()));
      for (size_t r = 0; r < rows.size(); ++r) {
        z.row(static_cast<Eigen::Index>(r)) = logits.row(rows[r]);
        y[static_cast<Eigen::Index>(r)] = labels[rows[r]];
      }
    };
    Matrix fit_z, held_z;
    Labels fit_y, held_y;
    gather(fit_rows, fit_z, fit_y);
    gather(held_rows, held_z, held_y);
    total += fit_calibrator(method, fit_z, fit_y, raw_temperature)->sample_nll(held_z, held_y).sum();
  }
  return total / static_cast<double>(n);
}

}  // namespace

nlohmann::json CalibrationComparison::to_json() const {
  nlohmann::json methods = nlohmann::json::array();
  for (size_t k = 0; k < calibrators.size(); ++k) {
    methods.push_back({{"method", calibrators[k]->method()},
                       {"calibrator", calibrators[k]->to_json()},
                       {"validation_nll", validation_nll[k]},
                       {"cross_validated_nll", cross_validated_nll.empty() ? nlohmann::json(nullptr)
                                                                           : nlohmann::json(cross_validated_nll[k])},
                       {"test", with_intervals(after[k], bootstrap.sets.at(k + 1))},
                       {"changes", changes_json(bootstrap.changes.at(k))}});
  }
  return {{"raw_temperature", raw_temperature},
          {"validation_samples", validation_samples},
          {"test_before", with_intervals(before, bootstrap.sets.at(0))},
          {"methods", methods},
          {"best", calibrators.empty() ? nlohmann::json(nullptr) : nlohmann::json(calibrators[best()]->method())},
          {"best_by", cross_validated_nll.empty() ? "validation NLL (in-sample)"
                                                  : std::to_string(folds) + "-fold cross-validated validation NLL"},
          {"bootstrap", bootstrap.to_json()}};
}

CalibrationComparison compare_calibrators(Sequential<float>& model, const Dataset& validation, const Dataset& test,
                                          const std::vector<std::string>& methods, const CalibrationSettings& settings) {
  if (validation.size() == 0) throw InputError("calibration needs a validation split (data.validation > 0)");
  CalibrationComparison c;
  c.raw_temperature = model.head().temperature();
  c.validation_samples = validation.size();
  const Matrix validation_logits = predict_logits(model, validation.images, settings.batch_size);
  check_validation_split(validation.labels, validation_logits.cols());
  const Matrix test_logits = predict_logits(model, test.images, settings.batch_size);
  c.before = assess(*temperature_calibrator(c.raw_temperature), test_logits, test.labels, settings);
  for (const std::string& method : methods) {
    std::shared_ptr<const Calibrator> fitted = fit_calibrator(method, validation_logits, validation.labels, c.raw_temperature);
    c.validation_nll.push_back(fitted->sample_nll(validation_logits, validation.labels).mean());
    c.after.push_back(assess(*fitted, test_logits, test.labels, settings));
    // every fold fits on (K − 1)/K of the split, which must itself be large enough
    if (methods.size() > 1 && validation.size() * (c.folds - 1) / c.folds >= kMinimumValidationSamples) {
      try {
        c.cross_validated_nll.push_back(
            cross_validated_nll(method, validation_logits, validation.labels, c.raw_temperature, c.folds, settings.seed));
      } catch (const InputError&) {  // a fold of one class: no cross-validation for any method
        c.cross_validated_nll.clear();
      }
    }
    c.calibrators.push_back(std::move(fitted));
  }
  if (c.cross_validated_nll.size() != c.calibrators.size()) c.cross_validated_nll.clear();
  std::vector<const SampleScores*> sets{&c.before.scores};
  for (const Assessment& a : c.after) sets.push_back(&a.scores);
  c.bootstrap = bootstrap(sets, settings.bootstrap, settings.seed);
  const MatrixT<double> shown =
      c.calibrators.empty() ? softmax(test_logits, c.raw_temperature) : c.calibrators[0]->probabilities(test_logits);
  c.confusion = confusion_matrix(shown, test.labels);
  return c;
}

nlohmann::json CalibrationResult::to_json() const {
  const CalibrationComparison& c = comparison;
  return {{"method", calibrator().method()},
          {"calibrator", calibrator().to_json()},
          {"fit", fit.to_json()},
          {"raw_temperature", c.raw_temperature},
          {"validation_samples", c.validation_samples},
          {"validation_nll", c.validation_nll.at(0)},
          {"test_before", with_intervals(before(), c.bootstrap.sets.at(0))},
          {"test_after", with_intervals(after(), c.bootstrap.sets.at(1))},
          {"changes", changes_json(changes())},
          {"bootstrap", c.bootstrap.to_json()},
          {"confusion", c.confusion}};
}

CalibrationResult calibrate(Sequential<float>& model, const Dataset& validation, const Dataset& test,
                            const CalibrationSettings& settings) {
  CalibrationResult result;
  result.comparison = compare_calibrators(model, validation, test, {settings.method}, settings);
  // temperature scaling's own fit, for the report's T row (the first step of the other methods too)
  const nlohmann::json& fit = result.calibrator().fit;
  if (settings.method == "temperature") {
    result.fit.temperature = result.calibrator().parameters()["temperature"];
    result.fit.iterations = fit["iterations"];
    result.fit.nll_before = fit["nll_before"];
    result.fit.nll_after = fit["nll_after"];
    result.fit.gradient = fit["gradient"];
    result.fit.bound = fit["bound"].is_null() ? "" : fit["bound"].get<std::string>();
  } else {
    result.fit = fit_temperature(predict_logits(model, validation.images, settings.batch_size), validation.labels);
  }
  return result;
}

double stored_temperature(const std::map<std::string, std::string>& metadata, double fallback) {
  auto it = metadata.find(kTemperatureKey);
  if (it == metadata.end()) return fallback;
  try {
    size_t used = 0;
    const double t = std::stod(it->second, &used);
    if (used == it->second.size() && t > 0 && std::isfinite(t)) return t;
  } catch (const std::exception&) {
  }
  throw InputError(std::string("metadata ") + kTemperatureKey + " is not a positive number: \"" + it->second + "\"");
}

void store_calibrator(const std::string& path, const Calibrator& calibrator) {
  SafetensorsFile file = read_safetensors(path);
  put_calibrator(file.metadata, calibrator);
  write_safetensors(path, file);
}

}  // namespace gradflow
