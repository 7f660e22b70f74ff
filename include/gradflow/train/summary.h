#pragma once
// What a run reports: one record per epoch (metrics.jsonl) and the run's summary (summary.json).
#include <nlohmann/json.hpp>
#include <string>

#include "gradflow/evaluate.h"
#include "gradflow/train_state.h"

namespace gradflow {

struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  double validation_loss = 0, validation_accuracy = 0;
  double learning_rate = 0;  // at the last step of the epoch
  double seconds = 0;        // training time of the epoch (without validation)
  double samples_per_second = 0;
  nlohmann::json to_json() const;
};

struct TrainSummary {
  std::string run_dir;
  EpochMetrics last_epoch;
  EvalResult test;
  bool tested = true;  // false with training.test false: `test` holds nothing and summary.json says so
  double train_seconds = 0;  // summed over epochs
  double total_seconds = 0;  // wall time, data loading and evaluation included, over every session
  int64_t sessions = 1;      // processes that ran it: 1 + the resumes
  int ranks = 1;             // data-parallel processes in this session (mpirun -np)
  // the best epoch by the validation metric (best.safetensors); 0 without a validation split
  int64_t best_epoch = 0;
  std::string best_metric;
  double best_value = 0;
  EpochMetrics best;            // that epoch's record
  bool stopped_early = false;   // training.early_stopping ended the run before training.epochs
  bool restored_best = false;   // the model is the best epoch's, not the last one's
  nlohmann::json calibration;  // CalibrationResult::to_json(), null without calibration
  bool interrupted = false;    // stopped early; last.safetensors holds `position`
  TrainPosition position;
  nlohmann::json to_json() const;
};

// Sets summary.json's calibration fields ("temperature", "calibration_method", "test_ece_after",
// ...) from a calibration.json (CalibrationResult::to_json()), replacing what they said before;
// `gradflow calibrate` uses it to keep a run's summary.json in step with its calibration.json.
void set_summary_calibration(nlohmann::json& summary, const nlohmann::json& calibration);

}  // namespace gradflow
