#pragma once
// Calibration as a step after training: fit a calibrator (calibrator.h) on the validation logits
// only, then judge it on the test split against the model as it came (its head's temperature):
// accuracy, NLL, Brier, ECE and MCE with 95% bootstrap intervals, a paired interval and a verdict
// for every change (bootstrap.h), and every estimator with its noise floor (estimators.h). The
// calibrator is kept in the checkpoint's metadata ("gradflow.calibrator", and for temperature
// scaling "gradflow.temperature").
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/calibration/bootstrap.h"
#include "gradflow/calibration/calibrator.h"
#include "gradflow/calibration/estimators.h"
#include "gradflow/calibration/metrics.h"
#include "gradflow/calibration/temperature.h"
#include "gradflow/data/dataset.h"
#include "gradflow/model.h"

namespace gradflow {

inline constexpr const char* kTemperatureKey = "gradflow.temperature";

// The documented defaults (config "calibration": method, bins, bootstrap).
struct CalibrationSettings {
  std::string method = "temperature";
  int bins = 15;
  int bootstrap = 1000;         // resamples for every interval; 0: none
  int noise_replicates = 1000;  // simulated calibrated label sets for the noise floor
  uint64_t seed = 0;            // of the bootstrap and the noise floor
  int64_t batch_size = 1000;
};

// One set of predictions on one split: its figures, every estimator, and what each sample
// contributes (for the bootstrap).
struct Assessment {
  CalibrationMetrics metrics;
  CalibrationEstimators estimators;
  SampleScores scores;
  nlohmann::json to_json() const;  // metrics.to_json() with "estimators"
};
// logits: (N, C), labels: (N)
Assessment assess(const Calibrator& calibrator, const Matrix& logits, const Labels& labels, const CalibrationSettings& settings);

// Every method named, fitted on the validation split and judged on the test split beside the
// raw model, with one bootstrap over all of them (so every change is paired).
struct CalibrationComparison {
  double raw_temperature = 1;
  int64_t validation_samples = 0;
  Assessment before;  // the raw model on the test split
  std::vector<std::shared_ptr<const Calibrator>> calibrators;
  std::vector<double> validation_nll;  // of each calibrator, on the split it was fitted on (in-sample)
  // of each method, K-fold cross-validated within the validation split (fitted on K − 1 folds,
  // scored on the one left out): in-sample NLL always favours more parameters, this does not.
  // Empty when the split is too small to fit on K − 1 folds.
  std::vector<double> cross_validated_nll;
  int folds = 5;
  std::vector<Assessment> after;       // of each calibrator, on the test split
  BootstrapResult bootstrap;           // sets: before, then each calibrator
  std::vector<std::vector<int64_t>> confusion;  // of the first calibrator's predictions: counts[true][predicted]
  // The calibrator with the lowest cross-validated validation NLL (in-sample when there is none).
  size_t best() const;
  nlohmann::json to_json() const;  // {"raw_temperature", "test_before", "methods": [...], "best", "bootstrap"}
};
CalibrationComparison compare_calibrators(Sequential<float>& model, const Dataset& validation, const Dataset& test,
                                          const std::vector<std::string>& methods, const CalibrationSettings& settings);

// One method (settings.method), as `train` and `calibrate` run it. to_json() is calibration.json:
//   {"method", "calibrator", "fit" (temperature scaling's fit), "raw_temperature",
//    "test_before", "test_after" (each: figures, "bins", "estimators", "intervals"),
//    "changes" (after − before, paired: estimate, lower, upper, verdict), "bootstrap", "confusion"}
struct CalibrationResult {
  CalibrationComparison comparison;  // of the one method
  TemperatureFit fit;                // temperature scaling on the validation split, whatever the method
  const Calibrator& calibrator() const { return *comparison.calibrators.at(0); }
  const Assessment& before() const { return comparison.before; }
  const Assessment& after() const { return comparison.after.at(0); }
  const FigureIntervals& changes() const { return comparison.bootstrap.changes.at(0); }
  nlohmann::json to_json() const;
};
CalibrationResult calibrate(Sequential<float>& model, const Dataset& validation, const Dataset& test,
                            const CalibrationSettings& settings);

// The calibrated temperature stored in checkpoint metadata, or `fallback` when there is none.
double stored_temperature(const std::map<std::string, std::string>& metadata, double fallback);
// Rewrites the checkpoint at `path` (atomically) with `calibrator` in its metadata.
void store_calibrator(const std::string& path, const Calibrator& calibrator);

}  // namespace gradflow
