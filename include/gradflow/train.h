#pragma once
// The training loop: config -> dataset -> model -> SGD epochs -> checkpoint and metrics.
// A run directory receives config.json (the resolved config), metrics.jsonl (one object per
// epoch), model.safetensors, summary.json, calibration.json and report.html; grads.jsonl with
// training.log_grad_every, last.safetensors (resumable) with training.checkpoint_every.
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "gradflow/config.h"
#include "gradflow/evaluate.h"
#include "gradflow/model.h"
#include "gradflow/optim/optimizer.h"
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

// Receives progress; every method has an empty default.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_epoch_begin(int64_t /*epoch*/, int64_t /*epochs*/, int64_t /*batches*/) {}
  // After each step: batches done this epoch, running mean loss, throughput so far.
  virtual void on_batch(int64_t /*done*/, double /*running_loss*/, double /*samples_per_second*/) {}
  virtual void on_epoch_end(const EpochMetrics& /*metrics*/) {}
};

// How a run starts and stops: from a resumable checkpoint (train_state.h), and a flag (set by a
// signal handler) that makes training finish its current step, save last.safetensors and return.
struct TrainControl {
  TrainState* resume = nullptr;
  const std::atomic<bool>* stop = nullptr;
};

struct TrainSummary {
  std::string run_dir;
  EpochMetrics last_epoch;
  EvalResult test;
  double train_seconds = 0;  // summed over epochs
  double total_seconds = 0;  // wall time, data loading and evaluation included
  nlohmann::json calibration;  // CalibrationResult::to_json(), null without calibration
  bool interrupted = false;    // stopped early; last.safetensors holds `position`
  TrainPosition position;
  nlohmann::json to_json() const;
};

// One training step on a gathered batch: forward, backward and the optimizer's update at `lr` (with
// `update_norms`, the per-parameter ||update|| too). train() and `gradflow bench` both run it.
struct StepOutcome {
  double loss = 0;             // the batch's mean loss
  bool loss_finite = true;
  bool gradient_finite = true;  // false: the update has made the parameters non-finite
  bool finite() const { return loss_finite && gradient_finite; }
};
StepOutcome train_step(Sequential<float>& model, Optimizer& optimizer, const Eigen::Ref<const Matrix>& x,
                       const Eigen::Ref<const Labels>& y, double lr, std::vector<double>* update_norms = nullptr);

// Throws ConfigError at /model/input unless the model takes as many features as `data` holds.
void check_model_input(const Config& config, const Dataset& data);

// Sets the number of threads that products and parallel loops are split over (0: every core).
void set_threads(int threads);

// Trains as `config` says; writes the run directory `run_dir`. Throws DivergenceError on a
// non-finite loss or gradient.
TrainSummary train(const Config& config, const std::string& run_dir, TrainObserver* observer = nullptr,
                   const TrainControl& control = {});

}  // namespace gradflow
