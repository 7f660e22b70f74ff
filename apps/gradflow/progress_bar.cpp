#include "progress_bar.h"

#include <spdlog/sinks/ansicolor_sink.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gradflow::cli {

using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr auto kTaskDelay = std::chrono::milliseconds(330);  // shorter tasks are not drawn at all

// Columns a UTF-8 string takes: its code points (gradflow writes no wide characters).
size_t display_width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// The first `width` columns of `s`, cut at a code point.
std::string cut(const std::string& s, size_t width) {
  size_t columns = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((s[i] & 0xC0) != 0x80) {
      if (columns == width) break;
      ++columns;
    }
  }
  return s.substr(0, i);
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// 75 s → "1:15", 4000 s → "1:06:40"
std::string duration(double seconds) {
  const long long s = std::llround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  }
  return text;
}

// 3.2e6 bytes → "3.2 MB"
std::string amount(int64_t n, const std::string& unit) {
  if (unit != "bytes") return std::to_string(n);
  const double v = static_cast<double>(n);
  if (v >= 1e9) return format("%.1f GB", v / 1e9);
  if (v >= 1e6) return format("%.1f MB", v / 1e6);
  if (v >= 1e3) return format("%.0f kB", v / 1e3);
  return std::to_string(n) + " B";
}
}  // namespace

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string fit_progress_line(const std::string& label, double fraction, const std::vector<std::string>& details,
                              int columns) {
  const size_t room = static_cast<size_t>(std::max(columns - 3, 1));
  constexpr size_t kMinBar = 10, kMaxBar = 40;
  const bool has_bar = fraction >= 0;
  for (size_t kept = details.size() + 1; kept-- > 0;) {
    std::string tail;
    for (size_t i = 0; i < kept; ++i) tail += "  " + details[i];
    const size_t fixed = display_width(label) + display_width(tail) + (has_bar ? 3 : 0);  // " [" and "]"
    if (has_bar && fixed + kMinBar <= room) {
      const size_t width = std::min(kMaxBar, room - fixed);
      const size_t filled = static_cast<size_t>(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(width));
      std::string bar(filled, '=');
      if (filled < width) bar += '>';
      bar.resize(width, ' ');
      return label + " [" + bar + "]" + tail;
    }
    if (!has_bar && fixed <= room) return label + tail;
  }
  return cut(label, room);  // not even the label and a minimal bar fit
}

TerminalLine& TerminalLine::instance() {
  static TerminalLine line;
  return line;
}

int TerminalLine::columns() const {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  const char* env = std::getenv("COLUMNS");
  const int from_env = env != nullptr ? std::atoi(env) : 0;
  return from_env > 0 ? from_env : 80;
}

std::string TerminalLine::back_to_line_start(int columns) const {
  const size_t width = static_cast<size_t>(std::max(columns, 1));
  if (!drawn_ || drawn_width_ <= width) return "\r";
  const size_t rows = (drawn_width_ + width - 1) / width;  // the old line, re-wrapped to the new width
  return "\r\033[" + std::to_string(rows - 1) + "A\033[J";
}

void TerminalLine::draw(const std::string& line) {
  // back to the line's start, the line, then erase what a longer earlier line left behind
  std::fprintf(stderr, "%s%s\033[K", back_to_line_start(columns()).c_str(), line.c_str());
  std::fflush(stderr);
  drawn_ = true;
  drawn_width_ = display_width(line);
}

void TerminalLine::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "%s\033[K", back_to_line_start(columns()).c_str());
  std::fflush(stderr);
  drawn_ = false;
}

namespace {
class ClearingSink : public spdlog::sinks::ansicolor_stderr_sink_mt {
 public:
  ClearingSink() : spdlog::sinks::ansicolor_stderr_sink_mt(spdlog::color_mode::automatic) {}
  void log(const spdlog::details::log_msg& message) override {
    TerminalLine::instance().clear();
    spdlog::sinks::ansicolor_stderr_sink_mt::log(message);
  }
};
}  // namespace

std::shared_ptr<spdlog::sinks::sink> progress_aware_log_sink() { return std::make_shared<ClearingSink>(); }

void ProgressBar::on_epoch_begin(int64_t epoch, int64_t epochs, int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  start_ = Clock::now();
  last_draw_ = Clock::time_point{};
}

void ProgressBar::on_batch(int64_t done, double running_loss, double samples_per_second) {
  const auto now = Clock::now();
  if (done != batches_ && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  const double fraction = static_cast<double>(done) / static_cast<double>(batches_);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double left = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0.0;
  TerminalLine& line = TerminalLine::instance();
  line.draw(fit_progress_line("epoch " + std::to_string(epoch_) + "/" + std::to_string(epochs_), fraction,
                              {std::to_string(done) + "/" + std::to_string(batches_), format("loss %.4f", running_loss),
                               duration(left) + " left", format("%.0f samples/s", samples_per_second)},
                              line.columns()));
}

void ProgressBar::on_epoch_end(const EpochMetrics& /*metrics*/) { TerminalLine::instance().clear(); }

void TaskProgress::begin(const std::string& what, int64_t total, const std::string& unit) {
  tasks_.push_back({what, unit, total, Clock::now()});
}

void TaskProgress::advance(int64_t done) {
  if (tasks_.empty()) return;
  const Task& task = tasks_.back();
  const auto now = Clock::now();
  if (now - task.start < kTaskDelay || now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - task.start).count();
  std::vector<std::string> details;
  double fraction = -1;
  if (task.total > 0) {
    fraction = static_cast<double>(done) / static_cast<double>(task.total);
    details.push_back(amount(done, task.unit) + "/" + amount(task.total, task.unit) +
                      (task.unit == "bytes" ? "" : " " + task.unit));
    if (fraction > 0) details.push_back(duration(elapsed * (1 - fraction) / fraction) + " left");
  } else {
    details.push_back(amount(done, task.unit) + (task.unit == "bytes" ? "" : " " + task.unit));
  }
  TerminalLine& line = TerminalLine::instance();
  line.draw(fit_progress_line(task.what, fraction, details, line.columns()));
}

void TaskProgress::end() {
  if (!tasks_.empty()) tasks_.pop_back();
  TerminalLine::instance().clear();
}

}  // namespace gradflow::cli
