#include "gradflow/optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace gradflow {

Schedule::Schedule(ScheduleOptions options, int64_t steps_per_epoch, int64_t epochs)
    : options_(std::move(options)),
      steps_per_epoch_(std::max<int64_t>(steps_per_epoch, 1)),
      total_steps_(std::max<int64_t>(steps_per_epoch * epochs, 1)),
      warmup_steps_(static_cast<int64_t>(std::llround(options_.warmup_epochs * static_cast<double>(steps_per_epoch_)))) {}

namespace {
// torch.optim.lr_scheduler.OneCycleLR's _annealing_cos: from `start` at f = 0 to `end` at f = 1.
double cosine_anneal(double start, double end, double fraction) {
  return end + (start - end) / 2.0 * (std::cos(M_PI * fraction) + 1.0);
}
}  // namespace

double Schedule::one_cycle(int64_t step) const {
  const double lr = options_.base_lr, first = lr / options_.div_factor, last = first / options_.final_div_factor;
  const double t = static_cast<double>(std::min(step, total_steps_ - 1));
  const double peak = options_.pct_start * static_cast<double>(total_steps_) - 1.0;  // PyTorch's end of the rise
  // a phase of no length (PyTorch divides by zero there) is at its end
  if (t <= peak) return cosine_anneal(first, lr, peak > 0 ? t / peak : 1.0);
  const double span = static_cast<double>(total_steps_ - 1) - peak;
  return cosine_anneal(lr, last, span > 0 ? (t - peak) / span : 1.0);
}

double Schedule::learning_rate(int64_t step) const {
  const double lr = options_.base_lr;
  if (options_.type == "one_cycle") return one_cycle(step);
  if (step < warmup_steps_) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  if (options_.type == "step") {
    const int64_t epoch = step / steps_per_epoch_;
    return lr * std::pow(options_.gamma, static_cast<double>(epoch / std::max<int64_t>(options_.step_epochs, 1)));
  }
  if (options_.type == "cosine") {
    const double span = static_cast<double>(std::max<int64_t>(total_steps_ - warmup_steps_, 1));
    const double t = std::min(static_cast<double>(step - warmup_steps_), span);
    return options_.min_lr + (lr - options_.min_lr) * 0.5 * (1.0 + std::cos(M_PI * t / span));
  }
  return lr;
}

}  // namespace gradflow
