#include "gradflow/calibration/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

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
  return static_cast<size_t>(std::min_element(validation_nll.begin(), validation_nll.end()) - validation_nll.begin());
}

namespace {

nlohmann::json with_intervals(const Assessment& a, const FigureIntervals& intervals) {
  nlohmann::json j = a.to_json();
  j["intervals"] = intervals_json(intervals);
  return j;
}

std::vector<std::vector<int64_t>> confusion_of(const MatrixT<double>& p, const Labels& labels) {
  const auto classes = static_cast<size_t>(p.cols());
  std::vector<std::vector<int64_t>> counts(classes, std::vector<int64_t>(classes, 0));
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    Eigen::Index predicted = 0;
    p.row(i).maxCoeff(&predicted);
    counts[static_cast<size_t>(labels[i])][static_cast<size_t>(predicted)] += 1;
  }
  return counts;
}

}  // namespace

nlohmann::json CalibrationComparison::to_json() const {
  nlohmann::json methods = nlohmann::json::array();
  for (size_t k = 0; k < calibrators.size(); ++k) {
    methods.push_back({{"method", calibrators[k]->method()},
                       {"calibrator", calibrators[k]->to_json()},
                       {"validation_nll", validation_nll[k]},
                       {"test", with_intervals(after[k], bootstrap.sets.at(k + 1))},
                       {"changes", changes_json(bootstrap.changes.at(k))}});
  }
  return {{"raw_temperature", raw_temperature},
          {"validation_samples", validation_samples},
          {"test_before", with_intervals(before, bootstrap.sets.at(0))},
          {"methods", methods},
          {"best", calibrators.empty() ? nlohmann::json(nullptr) : nlohmann::json(calibrators[best()]->method())},
          {"best_by", "validation NLL"},
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
    c.calibrators.push_back(std::move(fitted));
  }
  std::vector<const SampleScores*> sets{&c.before.scores};
  for (const Assessment& a : c.after) sets.push_back(&a.scores);
  c.bootstrap = bootstrap(sets, settings.bootstrap, settings.seed);
  const MatrixT<double> shown =
      c.calibrators.empty() ? softmax(test_logits, c.raw_temperature) : c.calibrators[0]->probabilities(test_logits);
  c.confusion = confusion_of(shown, test.labels);
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
