#pragma once
// How many threads a training step uses: all it may (`threads`), or one while that is faster.
// On cores shared with other busy processes, a second thread that waits at a barrier for a
// descheduled partner can make a step several times slower than one thread (GNU OpenMP's
// waiting threads spin); no OpenMP setting is right both on a quiet machine and a busy one
// (README, "Threads on a busy machine"). So training measures: now and then it runs a few steps
// on the other count, and keeps whichever took less time. A probe that loses waits twice as long
// before the next one, up to kLongestPeriod steps, so on a steady machine it costs little.
// A switch changes no result: one thread runs the very blocks each product was split into for
// `threads` (set_running_threads, parallel.h), one after the other, so a run's numbers do not
// depend on when it switched (tests: Gemm.OneThreadRunningTwoThreadsBlocksGivesTheirBits,
// Bf16Products.OneThreadAndTwoGiveTheSameBits). That is why training.adapt_threads is on by default.
#include <cstdint>
#include <vector>

namespace gradflow {

class ThreadTuner {
 public:
  static constexpr int64_t kWindow = 16;           // steps timed on each side of a comparison
  static constexpr int64_t kFirstPeriod = 64;      // steps between probes after a switch
  static constexpr int64_t kLongestPeriod = 2048;  // ... and at most after probes that lost
  static constexpr double kMargin = 0.9;           // the probe must take under 90% of the time

  explicit ThreadTuner(int most_threads);

  int threads() const { return probing_ ? other() : current_; }  // for the next step
  // The wall time of the step just run on threads(). Returns true when the count changed.
  bool record(double seconds);

  int current() const { return current_; }
  int most() const { return most_; }
  // At the last switch: the mean step on the count left, and on the count taken.
  double left_seconds() const { return left_seconds_; }
  double taken_seconds() const { return taken_seconds_; }

 private:
  int other() const { return current_ == most_ ? 1 : most_; }

  int most_, current_;
  bool probing_ = false;
  bool skip_next_ = false;  // the first step on a new count wakes threads: not timed
  int64_t since_probe_ = 0, period_ = kFirstPeriod;
  std::vector<double> recent_, probe_;
  double left_seconds_ = 0, taken_seconds_ = 0;
};

}  // namespace gradflow
