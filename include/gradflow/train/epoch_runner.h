#pragma once
// The steps of one epoch, shared by `train` and `bench`: gather each batch of the current order,
// step the optimizer at the schedule's rate, and keep the position (step, batch, partial sums)
// up to date, so that a run can stop after any step and resume there.
#include <functional>
#include <memory>
#include <vector>

#include "gradflow/data/batcher.h"
#include "gradflow/model.h"
#include "gradflow/optim/optimizer.h"
#include "gradflow/optim/schedule.h"
#include "gradflow/train/adversarial.h"
#include "gradflow/train/mixup.h"
#include "gradflow/train/thread_tuner.h"
#include "gradflow/train/weight_average.h"
#include "gradflow/train_state.h"

namespace gradflow {

// What the caller sees after each step.
struct StepReport {
  int64_t epoch = 0;
  const TrainPosition* position = nullptr;   // already advanced past this step
  double loss = 0;                           // this batch's mean loss
  double learning_rate = 0;                  // the rate this step used
  double seconds = 0;                        // since this call of run() began
  double reduce_seconds = 0;                 // of those, in the gradients' all-reduce (data-parallel)
  const std::vector<double>* update_norms = nullptr;  // ||update|| per parameter, on logged steps only
};

// How the steps run besides the model, its optimizer and the data.
struct EpochRunnerOptions {
  int64_t update_norms_every = 0;  // every this many steps (0: never), also record ||update|| per parameter
  // Data-parallel training: `ranks` split every batch (each takes its rows, rank_rows()) and
  // average their gradients; losses, counts and the decision to stop are summed over them.
  Communicator* ranks = nullptr;
  bool check_replicas = false;  // after every step, verify that every rank holds the same weights
  WeightAverage* average = nullptr;  // training.ema: updated after every step
  AdversarialOptions adversarial;    // training.adversarial: every step also trains on perturbed inputs
  Mixup* mixup = nullptr;            // training.mixup: every batch is mixed with a shuffled copy of itself
  // time the steps and use one thread instead of all while that is faster (train/thread_tuner.h)
  bool adapt_threads = false;
};

class EpochRunner {
 public:
  EpochRunner(Sequential<float>& model, Optimizer& optimizer, Batcher& batcher, const Schedule& schedule,
              EpochRunnerOptions options = {});
  // With adapt_threads: back to every thread, for what follows training (evaluation, calibration).
  ~EpochRunner();
  EpochRunner(const EpochRunner&) = delete;
  EpochRunner& operator=(const EpochRunner&) = delete;

  // Runs batches position.batch, ..., batches() - 1 of the current order (the caller shuffles).
  // `stop` (optional) is asked after every step whether this process wants to stop; the run
  // stops after the step on which any rank did. `after_step` (optional) sees each step. Returns
  // true when the epoch ran to its end. Throws DivergenceError, naming the epoch and step, on a
  // non-finite loss or gradient, on every rank alike.
  bool run(int64_t epoch, TrainPosition& position, const std::function<void(const StepReport&)>& after_step = nullptr,
           const std::function<bool()>& stop = nullptr);

  int64_t batches() const { return batcher_.batches(); }

 private:
  Sequential<float>& model_;
  Optimizer& optimizer_;
  Batcher& batcher_;
  const Schedule& schedule_;
  EpochRunnerOptions options_;
  Matrix x_;  // the gathered batch, reused from step to step
  Labels y_;
  std::vector<double> update_norms_;
  std::unique_ptr<ThreadTuner> tuner_;  // with adapt_threads
  std::unique_ptr<AdversarialStep> adversarial_;  // with training.adversarial
};

}  // namespace gradflow
