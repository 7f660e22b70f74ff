#pragma once
// Learning-rate schedules, evaluated per step (t counts optimizer steps from 0, T is every step of
// the run):
//   constant:  lr
//   step:      lr * gamma^floor(epoch / step_epochs)
//   cosine:    min_lr + (lr - min_lr) * (1 + cos(pi * t' / T')) / 2   over the steps after warm-up
//   one_cycle: Smith & Topin's 1cycle, as torch.optim.lr_scheduler.OneCycleLR(max_lr=lr,
//              total_steps=T, anneal_strategy="cos", three_phase=False) computes it, the
//              momentum left alone: with a = cos_anneal(from, to, f) = to + (from - to)(1 + cos(pi f))/2
//              and the peak at step P = pct_start * T - 1,
//                t <= P:  a(lr / div_factor, lr, t / P)
//                t >  P:  a(lr, lr / (div_factor * final_div_factor), (t - P) / (T - 1 - P))
//              so the first step runs at lr / div_factor, step P at lr, the last at the minimum.
// With warmup_epochs > 0 the rate first rises linearly: lr * (t + 1) / warmup_steps (not for
// one_cycle, which warms up by itself).
#include <cstdint>
#include <string>

namespace gradflow {

struct ScheduleOptions {
  std::string type = "constant";  // constant | step | cosine | one_cycle
  double base_lr = 0.1;
  double warmup_epochs = 0.0;
  int64_t step_epochs = 10;  // step: decay every this many epochs
  double gamma = 0.1;        // step: decay factor
  double min_lr = 0.0;       // cosine: the final rate
  double pct_start = 0.3;           // one_cycle: the fraction of the steps spent rising (PyTorch's defaults)
  double div_factor = 25.0;         // one_cycle: the first rate is lr / div_factor
  double final_div_factor = 1e4;    // one_cycle: the last is lr / (div_factor * final_div_factor)
};

class Schedule {
 public:
  Schedule(ScheduleOptions options, int64_t steps_per_epoch, int64_t epochs);
  double learning_rate(int64_t step) const;

 private:
  double one_cycle(int64_t step) const;

  ScheduleOptions options_;
  int64_t steps_per_epoch_;
  int64_t total_steps_;
  int64_t warmup_steps_;
};

}  // namespace gradflow
