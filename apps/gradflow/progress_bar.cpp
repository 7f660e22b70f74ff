#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace gradflow::cli {

using Clock = std::chrono::steady_clock;

bool ProgressBar::wanted() { return ::isatty(STDERR_FILENO) == 1; }

void ProgressBar::on_epoch_begin(int64_t epoch, int64_t epochs, int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  start_ = Clock::now();
  last_draw_ = Clock::time_point{};
}

void ProgressBar::on_batch(int64_t done, double running_loss, double samples_per_second) {
  const auto now = Clock::now();
  if (done != batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int width = 30;
  const double fraction = static_cast<double>(done) / static_cast<double>(batches_);
  const int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(width, ' ');
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double left = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0.0;
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld  loss %.4f  %.0f samples/s  %.0f s left",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(done), static_cast<long long>(batches_), running_loss, samples_per_second, left);
  std::fflush(stderr);
}

void ProgressBar::on_epoch_end(const EpochMetrics& /*metrics*/) {
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace gradflow::cli
