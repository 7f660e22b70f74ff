#include "gradflow/train/epoch_runner.h"

#include <chrono>

#include "gradflow/errors.h"
#include "gradflow/train/step.h"

namespace gradflow {

EpochRunner::EpochRunner(Sequential<float>& model, Optimizer& optimizer, Batcher& batcher, const Schedule& schedule,
                         int64_t update_norms_every)
    : model_(model), optimizer_(optimizer), batcher_(batcher), schedule_(schedule),
      update_norms_every_(update_norms_every) {}

bool EpochRunner::run(int64_t epoch, TrainPosition& position,
                      const std::function<bool(const StepReport&)>& after_step) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (int64_t b = position.batch; b < batcher_.batches(); ++b) {
    batcher_.gather(b, x_, y_);
    const double lr = schedule_.learning_rate(position.step);
    const bool norms = update_norms_every_ > 0 && position.step % update_norms_every_ == 0;
    const StepOutcome outcome = train_step(model_, optimizer_, x_, y_, lr, norms ? &update_norms_ : nullptr);
    if (!outcome.finite()) {
      throw DivergenceError("training diverged at epoch " + std::to_string(epoch) + ", step " +
                            std::to_string(position.step) + ": the " + (outcome.loss_finite ? "gradient" : "loss") +
                            " is not finite; try a lower /optimizer/lr");
    }
    ++position.step;
    position.batch = b + 1;
    position.loss_sum += outcome.loss * static_cast<double>(y_.size());
    position.correct += model_.head().correct();
    position.seen += y_.size();
    if (after_step) {
      StepReport report{epoch, &position, outcome.loss, lr,
                        std::chrono::duration<double>(Clock::now() - start).count(), norms ? &update_norms_ : nullptr};
      if (!after_step(report)) return position.batch == batcher_.batches();
    }
  }
  return true;
}

}  // namespace gradflow
