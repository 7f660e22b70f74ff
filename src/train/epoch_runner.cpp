#include "gradflow/train/epoch_runner.h"

#include <omp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "gradflow/distributed/replicas.h"
#include "gradflow/errors.h"
#include "gradflow/parallel.h"
#include "gradflow/train/step.h"

namespace gradflow {

EpochRunner::EpochRunner(Sequential<float>& model, Optimizer& optimizer, Batcher& batcher, const Schedule& schedule,
                         EpochRunnerOptions options)
    : model_(model), optimizer_(optimizer), batcher_(batcher), schedule_(schedule), options_(options) {
  if (options_.adapt_threads && omp_get_max_threads() > 1) tuner_ = std::make_unique<ThreadTuner>(omp_get_max_threads());
  if (options_.adversarial.enabled()) adversarial_ = std::make_unique<AdversarialStep>(options_.adversarial);
}

EpochRunner::~EpochRunner() {
  if (tuner_) set_threads(tuner_->most());
}

bool EpochRunner::run(int64_t epoch, TrainPosition& position, const std::function<void(const StepReport&)>& after_step,
                      const std::function<bool()>& stop) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  Communicator& ranks = options_.ranks != nullptr ? *options_.ranks : single_process();
  double reduce_seconds = 0;
  for (int64_t b = position.batch; b < batcher_.batches(); ++b) {
    const auto step_start = Clock::now();
    if (tuner_) set_running_threads(tuner_->threads(), tuner_->most());
    const int64_t rows = batcher_.batch_rows(b);
    const RowRange mine = rank_rows(rows, ranks.rank(), ranks.size());
    batcher_.gather(b, x_, y_, mine.begin, mine.end);
    if (options_.mixup != nullptr) options_.mixup->mix(batcher_, b, mine.begin, mine.end, x_);
    const double lr = schedule_.learning_rate(position.step);
    const bool norms = options_.update_norms_every > 0 && position.step % options_.update_norms_every == 0;
    StepOutcome outcome = train_step(model_, optimizer_, x_, y_, lr, norms ? &update_norms_ : nullptr, {&ranks, mine.begin, rows},
                                     adversarial_.get(), options_.mixup != nullptr ? options_.mixup->labels() : LabelMix{});
    // the batch's loss and correct count, and whether to stop: summed over the ranks
    double totals[3] = {outcome.loss * static_cast<double>(mine.size()),
                        static_cast<double>(outcome.correct), stop && stop() ? 1.0 : 0.0};
    ranks.sum(totals, 3);
    if (ranks.distributed()) {
      outcome.loss = totals[0] / static_cast<double>(rows);
      outcome.loss_finite = std::isfinite(outcome.loss);
    }
    if (!outcome.finite()) {
      throw DivergenceError("training diverged at epoch " + std::to_string(epoch) + ", step " +
                            std::to_string(position.step) + ": the " + (outcome.loss_finite ? "gradient" : "loss") +
                            " is not finite; try a lower /optimizer/lr");
    }
    if (options_.average != nullptr) options_.average->update();
    reduce_seconds += outcome.reduce_seconds;
    if (tuner_ && tuner_->record(std::chrono::duration<double>(Clock::now() - step_start).count())) {
      const int left = tuner_->current() == 1 ? tuner_->most() : 1;
      spdlog::info("training on {} thread{} now: a step took {:.2f} ms on {} and {:.2f} ms on {}{}", tuner_->current(),
                   tuner_->current() == 1 ? "" : "s", 1e3 * tuner_->taken_seconds(), tuner_->current(),
                   1e3 * tuner_->left_seconds(), left, tuner_->current() == 1 ? " (other work is using the cores)" : "");
    }
    if (options_.check_replicas && ranks.distributed()) check_replicas(model_, ranks, position.step);
    ++position.step;
    position.batch = b + 1;
    position.loss_sum += totals[0];
    position.correct += static_cast<int64_t>(totals[1]);
    position.seen += rows;
    if (after_step) {
      after_step(StepReport{epoch, &position, outcome.loss, lr,
                            std::chrono::duration<double>(Clock::now() - start).count(), reduce_seconds,
                            norms ? &update_norms_ : nullptr});
    }
    if (totals[2] > 0) return position.batch == batcher_.batches();
  }
  return true;
}

}  // namespace gradflow
