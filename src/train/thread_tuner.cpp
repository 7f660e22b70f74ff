#include "gradflow/train/thread_tuner.h"

#include <algorithm>

namespace gradflow {

namespace {
// The mean, not the median: on busy cores most steps run at full speed and a few stall for tens
// of milliseconds (a thread spinning at a barrier for a partner that lost its core), and the
// stalls are what cost the time.
double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}
}  // namespace

ThreadTuner::ThreadTuner(int most_threads) : most_(std::max(1, most_threads)), current_(most_) {}

bool ThreadTuner::record(double seconds) {
  if (most_ == 1) return false;
  if (skip_next_) {
    skip_next_ = false;
    return false;
  }
  if (!probing_) {
    recent_.push_back(seconds);
    if (static_cast<int64_t>(recent_.size()) > kWindow) recent_.erase(recent_.begin());
    if (++since_probe_ >= period_ && static_cast<int64_t>(recent_.size()) == kWindow) {
      probing_ = true;
      skip_next_ = true;
      probe_.clear();
    }
    return false;
  }
  probe_.push_back(seconds);
  if (static_cast<int64_t>(probe_.size()) < kWindow) return false;
  probing_ = false;
  since_probe_ = 0;
  const double probe = mean(probe_), now = mean(recent_);
  const bool faster = probe < kMargin * now;
  if (faster) {
    left_seconds_ = now;
    taken_seconds_ = probe;
    current_ = other();
    period_ = kFirstPeriod;
    recent_ = probe_;  // the probe's steps are the new count's recent ones
  } else {
    period_ = std::min(2 * period_, kLongestPeriod);
    skip_next_ = true;  // back on the current count
  }
  return faster;
}

}  // namespace gradflow
