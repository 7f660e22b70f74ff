#pragma once
// A one-line progress bar on stderr for each epoch (only when stderr is a terminal).
#include <chrono>

#include "gradflow/train.h"

namespace gradflow::cli {

class ProgressBar : public TrainObserver {
 public:
  static bool wanted();  // stderr is a terminal
  void on_epoch_begin(int64_t epoch, int64_t epochs, int64_t batches) override;
  void on_batch(int64_t done, double running_loss, double samples_per_second) override;
  void on_epoch_end(const EpochMetrics& metrics) override;

 private:
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace gradflow::cli
