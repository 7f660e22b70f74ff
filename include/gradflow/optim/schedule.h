#pragma once
// Learning-rate schedules, evaluated per step (t counts optimizer steps from 0):
//   constant: lr
//   step:     lr * gamma^floor(epoch / step_epochs)
//   cosine:   min_lr + (lr - min_lr) * (1 + cos(pi * t' / T')) / 2   over the steps after warm-up
// With warmup_epochs > 0 the rate first rises linearly: lr * (t + 1) / warmup_steps.
#include <cstdint>
#include <string>

namespace gradflow {

struct ScheduleOptions {
  std::string type = "constant";  // constant | step | cosine
  double base_lr = 0.1;
  double warmup_epochs = 0.0;
  int64_t step_epochs = 10;  // step: decay every this many epochs
  double gamma = 0.1;        // step: decay factor
  double min_lr = 0.0;       // cosine: the final rate
};

class Schedule {
 public:
  Schedule(ScheduleOptions options, int64_t steps_per_epoch, int64_t epochs);
  double learning_rate(int64_t step) const;

 private:
  ScheduleOptions options_;
  int64_t steps_per_epoch_;
  int64_t total_steps_;
  int64_t warmup_steps_;
};

}  // namespace gradflow
