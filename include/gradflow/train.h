#pragma once
// The training loop: config -> dataset -> model -> optimizer epochs -> checkpoint and metrics,
// in three pieces: the run directory (train/run_directory.h: what a run writes and may delete),
// the epoch runner (train/epoch_runner.h, which `bench` runs too) and the finish (train/finish.h:
// calibration, the test evaluation, the summary and the report).
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "gradflow/config.h"
#include "gradflow/data/dataset.h"
#include "gradflow/parallel.h"
#include "gradflow/train/step.h"
#include "gradflow/train/summary.h"
#include "gradflow/train_state.h"

namespace gradflow {

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
  bool replace = false;  // a new run may replace an earlier run's results in its directory
  // Data-parallel training (mpirun): the ranks that train this model together, each on its rows
  // of every global batch of training.batch_size; rank 0 alone writes the run directory and
  // reports progress. Null: this process alone.
  Communicator* ranks = nullptr;
};

// Trains as `config` says; writes the run directory `run_dir`. Throws DivergenceError on a
// non-finite loss or gradient.
TrainSummary train(const Config& config, const std::string& run_dir, TrainObserver* observer = nullptr,
                   const TrainControl& control = {});

}  // namespace gradflow
