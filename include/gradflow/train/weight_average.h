#pragma once
// training.ema: an exponential moving average of the weights (Polyak averaging, as
// TensorFlow's ExponentialMovingAverage), kept beside the model that trains. After every
// optimizer step, for every parameter:
//   ema ← d·ema + (1 − d)·w,   d = min(decay, (1 + n)/(10 + n))
// where n counts this average's earlier updates: TensorFlow's warm-up with num_updates, so the
// average forgets the initial weights within a few steps instead of ~1/(1 − decay) of them. It
// starts at the model's weights. The averaged model is what the run evaluates, calibrates and
// saves (best.safetensors, model.safetensors); the live model keeps training. The averaging
// changes no gradient.
#include <cstdint>
#include <vector>

#include "gradflow/model.h"

namespace gradflow {

class WeightAverage {
 public:
  // `live` must outlive the average; its weights are the average's start. decay in (0, 1).
  WeightAverage(Sequential<float>& live, double decay);

  // After an optimizer step: one update of the average (above), then the live model's buffers.
  void update();
  // The decay of the update after `updates` earlier ones.
  double decay_at(int64_t updates) const;
  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }

  // The averaged parameters with the live model's buffers: batch norm's running statistics are
  // copied, not averaged. They are already an exponential average of batch statistics, with
  // the momentum the model chose, and num_batches_tracked must stay a count; this is also what
  // torch.optim.swa_utils.AveragedModel does by default (use_buffers=False) — except that it
  // leaves the buffers as they were at the start, and we keep them current.
  Sequential<float>& model() { return average_; }

  // A resumed run: the average as a checkpoint saved it (its parameters already in model()).
  void set_updates(int64_t updates) { updates_ = updates; }
  void copy_buffers();

 private:
  Sequential<float>& live_;
  Sequential<float> average_;
  double decay_;
  int64_t updates_ = 0;
  std::vector<TensorView<float>> live_buffers_, average_buffers_;  // views taken once: no allocation per step
};

}  // namespace gradflow
