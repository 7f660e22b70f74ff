#include "gradflow/progress.h"

namespace gradflow {

namespace {
ProgressSink* current_sink = nullptr;
}

void set_progress_sink(ProgressSink* sink) { current_sink = sink; }

ProgressTask::ProgressTask(const std::string& what, int64_t total, const std::string& unit) : sink_(current_sink) {
  if (sink_ != nullptr) sink_->begin(what, total, unit);
}

ProgressTask::~ProgressTask() {
  if (sink_ != nullptr) sink_->end();
}

}  // namespace gradflow
