#pragma once
// Progress on a terminal: one line on stderr, redrawn in place and never wider than the terminal
// (its width is read at every draw, so a resize takes effect at the next). Training epochs
// (ProgressBar) and the library's long tasks — inflating data, evaluating (TaskProgress) — draw
// on the same line, at most ten times a second; a log message clears the line before it is
// written (progress_aware_log_sink). When stderr is not a terminal nothing is drawn: the log has
// one line per epoch.
#include <spdlog/sinks/sink.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gradflow/progress.h"
#include "gradflow/train.h"

namespace gradflow::cli {

bool stderr_is_terminal();

// The line laid out for a terminal `columns` wide: "LABEL [=====>     ] DETAIL  DETAIL ...", at
// most columns - 3 characters (the last column makes some terminals wrap, and Ctrl-C echoes "^C"
// after the line). To fit, the
// bar shrinks to 10, then the details go from the last, then the bar, then the label is cut.
// fraction < 0: no bar (a task of unknown size).
std::string fit_progress_line(const std::string& label, double fraction, const std::vector<std::string>& details,
                              int columns);

// The progress line on stderr.
class TerminalLine {
 public:
  static TerminalLine& instance();
  int columns() const;  // the terminal's width now; 80 when it cannot be read
  void draw(const std::string& line);
  void clear();  // erase a drawn line (before a log message, at the end of an epoch)

 private:
  // "\r", and after the terminal narrowed below the drawn line, up over the rows a terminal that
  // re-wraps its lines (tmux, VTE, kitty, iTerm2, Windows Terminal) has made of it, erasing them.
  std::string back_to_line_start(int columns) const;

  bool drawn_ = false;
  size_t drawn_width_ = 0;  // of the line on screen
};

// A spdlog sink writing to stderr in colour, after clearing the progress line.
std::shared_ptr<spdlog::sinks::sink> progress_aware_log_sink();

class ProgressBar : public TrainObserver {
 public:
  void on_epoch_begin(int64_t epoch, int64_t epochs, int64_t batches) override;
  void on_batch(int64_t done, double running_loss, double samples_per_second) override;
  void on_epoch_end(const EpochMetrics& metrics) override;

 private:
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Draws the library's tasks (gradflow/progress.h) that last longer than a third of a second.
class TaskProgress : public ProgressSink {
 public:
  void begin(const std::string& what, int64_t total, const std::string& unit) override;
  void advance(int64_t done) override;
  void end() override;

 private:
  struct Task {
    std::string what, unit;
    int64_t total = 0;
    std::chrono::steady_clock::time_point start;
  };
  std::vector<Task> tasks_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace gradflow::cli
