#pragma once
// Resumable training: last.safetensors holds the model (as every checkpoint does) plus what an
// exact continuation needs — the optimizer's state tensors ("optimizer.<state>.<parameter>", e.g.
// "optimizer.exp_avg.0.weight") and in the metadata its type and scalars (Adam's step count), the
// position (epoch, batch, step), the random generators' states and the partial sums of the
// interrupted epoch. Resuming from it gives bit-identical results to a run
// that was never interrupted (same thread count).
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gradflow/checkpoint.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/train/weight_average.h"

namespace gradflow {

struct TrainPosition {
  int64_t epoch = 1;         // the epoch to run next, 1-based
  int64_t batch = 0;         // the next batch within it
  int64_t step = 0;          // optimizer steps taken so far
  std::string epoch_rng;     // the data generator's state at the start of `epoch`, before its shuffle
  std::string mixup_rng;     // training.mixup's generator after the steps taken (empty: no mixup)
  double loss_sum = 0;       // sums over the batches of `epoch` already done
  int64_t correct = 0, seen = 0;
  double train_seconds = 0;  // training time of the finished epochs
  double epoch_seconds = 0;  // training time of `epoch` so far (its batches already done)
  double wall_seconds = 0;   // wall time of the run so far, every session of it, loading and evaluation included
  int64_t sessions = 0;      // processes that have run it so far: 1 + the resumes
  int64_t best_epoch = 0;    // the epoch with the best validation metric so far (best.safetensors); 0: none yet
  double best_value = 0;     // its metric (training.early_stopping's, validation loss by default)
};

// Writes the model, the optimizer state and `position` atomically; with `average`
// (training.ema), also the averaged parameters as "ema.<parameter>" and its update count.
void save_train_state(const std::string& path, Sequential<float>& model, const Optimizer& optimizer, const TrainPosition& position,
                      const nlohmann::json& config, WeightAverage* average = nullptr);

struct TrainState {
  LoadedCheckpoint checkpoint;  // the model and its config
  std::string path;             // the file it was read from
  TrainPosition position;
  std::string optimizer_type;                 // empty in checkpoints older than the optimizer interface (SGD)
  nlohmann::json optimizer_scalars = nlohmann::json::object();
  std::map<std::string, StoredTensor> optimizer_tensors;  // "optimizer.<state>.<parameter>"
  std::vector<std::string> layer_rng;        // per layer, empty for layers without a generator
  std::map<std::string, StoredTensor> average_tensors;  // "ema.<parameter>": training.ema's average
  int64_t average_updates = 0;
};
// InputError naming the file when it is not a resumable checkpoint.
TrainState load_train_state(const std::string& path);
// Puts the optimizer state of `state` into `optimizer` (built over the checkpoint's model, with the
// config's options); InputError naming the file when a state tensor is missing, of the wrong shape, or
// the checkpoint was written by another optimizer.
void restore_optimizer(const TrainState& state, Optimizer& optimizer);
// Puts the weight average of `state` into `average` (built over the checkpoint's model); a
// checkpoint written without one (training.ema added on resuming) leaves the average where it
// starts, at the checkpoint's weights, and returns false. InputError naming the file when a
// tensor has the wrong shape.
bool restore_average(const TrainState& state, WeightAverage& average);
// InputError naming the file unless `state` was written by an optimizer of `type`.
void check_optimizer_type(const TrainState& state, const std::string& type);

std::string rng_state(const std::mt19937_64& rng);
void set_rng_state(std::mt19937_64& rng, const std::string& state);

}  // namespace gradflow
