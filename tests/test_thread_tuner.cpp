// The thread tuner's choices on step times given by hand: it keeps all threads on a steady
// machine (probing less and less often), takes one thread when that is clearly faster, and
// goes back when the machine is quiet again.
#include <gtest/gtest.h>

#include "gradflow/train/thread_tuner.h"

using gradflow::ThreadTuner;

namespace {

// Runs `steps` steps whose time depends on the thread count; returns the counts used.
template <typename Time>
std::vector<int> drive(ThreadTuner& tuner, int64_t steps, Time time) {
  std::vector<int> used;
  for (int64_t i = 0; i < steps; ++i) {
    used.push_back(tuner.threads());
    tuner.record(time(used.back()));
  }
  return used;
}

int64_t count(const std::vector<int>& used, int threads) { return std::count(used.begin(), used.end(), threads); }

}  // namespace

TEST(ThreadTuner, KeepsEveryThreadOnAQuietMachineAndProbesLessOften) {
  ThreadTuner tuner(2);
  const auto used = drive(tuner, 10000, [](int threads) { return threads == 2 ? 1.0e-3 : 1.9e-3; });
  EXPECT_EQ(tuner.current(), 2);
  // probes: after 64, 128, 256, ..., 2048 steps, each 1 + 16 steps on one thread
  const int64_t probes = count(used, 1) / (ThreadTuner::kWindow + 1);
  EXPECT_EQ(count(used, 1) % (ThreadTuner::kWindow + 1), 0);
  EXPECT_GE(probes, 6);
  EXPECT_LE(probes, 9);
  // 8 probes of 17 steps: 1.4% of the first 10,000 steps, and under 1% (17 in 2048) from then on
  EXPECT_LE(count(used, 1), 10000 * 15 / 1000);
}

TEST(ThreadTuner, TakesOneThreadWhenTheCoresAreBusyAndReturnsWhenTheyAreFree) {
  ThreadTuner tuner(2);
  bool busy = true;
  // as measured on mnist_mlp: 2 threads 0.6 ms a step when quiet, 7 ms beside a busy loop; 1 thread 1.1 ms
  auto time = [&busy](int threads) { return threads == 2 ? (busy ? 7.0e-3 : 0.6e-3) : 1.1e-3; };
  drive(tuner, ThreadTuner::kFirstPeriod + ThreadTuner::kWindow + 1, time);
  EXPECT_EQ(tuner.current(), 1);  // the first probe found one thread faster
  EXPECT_DOUBLE_EQ(tuner.left_seconds(), 7.0e-3);
  EXPECT_DOUBLE_EQ(tuner.taken_seconds(), 1.1e-3);
  // still busy: probes of 2 threads lose, and grow rarer
  const auto busy_steps = drive(tuner, 5000, time);
  EXPECT_EQ(tuner.current(), 1);
  EXPECT_LE(count(busy_steps, 2), 5000 * 25 / 1000);
  busy = false;  // the other work ends: the next probe (within kLongestPeriod steps) goes back
  drive(tuner, ThreadTuner::kLongestPeriod + 2 * (ThreadTuner::kWindow + 1), time);
  EXPECT_EQ(tuner.current(), 2);
}

TEST(ThreadTuner, AProbeMustWinByTheMarginToSwitch) {
  ThreadTuner tuner(4);
  // one thread 5% faster: within the margin, no switch
  drive(tuner, 1000, [](int threads) { return threads == 4 ? 1.0e-3 : 0.95e-3; });
  EXPECT_EQ(tuner.current(), 4);
  ThreadTuner single(1);
  EXPECT_EQ(drive(single, 500, [](int) { return 1e-3; }), std::vector<int>(500, 1));
}
