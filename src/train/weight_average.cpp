#include "gradflow/train/weight_average.h"

#include <algorithm>

namespace gradflow {

WeightAverage::WeightAverage(Sequential<float>& live, double decay)
    : live_(live), average_(live.describe()), decay_(decay) {
  copy_state(live_, average_);
  live_buffers_ = live_.buffers();
  average_buffers_ = average_.buffers();
}

double WeightAverage::decay_at(int64_t updates) const {
  const auto n = static_cast<double>(updates);
  return std::min(decay_, (1.0 + n) / (10.0 + n));
}

void WeightAverage::update() {
  const double d = decay_at(updates_);
  const auto keep = static_cast<float>(d), take = static_cast<float>(1.0 - d);
  auto average = average_.parameter_block();
  average.array() = keep * average.array() + take * live_.parameter_block().array();
  ++updates_;
  copy_buffers();
}

void WeightAverage::copy_buffers() {
  for (size_t k = 0; k < live_buffers_.size(); ++k) {
    std::copy(live_buffers_[k].value, live_buffers_[k].value + live_buffers_[k].size(), average_buffers_[k].value);
  }
}

}  // namespace gradflow
