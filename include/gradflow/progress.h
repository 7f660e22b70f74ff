#pragma once
// Progress of long work — reading and inflating data, evaluating, calibrating. The work says what
// it is doing and how far it has got; whoever installed a sink shows it (the command line draws
// a bar on a terminal). Without a sink, reporting costs one branch.
#include <cstdint>
#include <string>

namespace gradflow {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // A task begins: `what` ("reading train-images-idx3-ubyte.gz") has `total` units of `unit`
  // ("bytes", "images"); total 0 when unknown.
  virtual void begin(const std::string& what, int64_t total, const std::string& unit) = 0;
  virtual void advance(int64_t done) = 0;  // units done so far; called often, the sink throttles
  virtual void end() = 0;
};

// Where long work reports; nullptr (the default) for nowhere. Not thread-safe: set it once, before work starts.
void set_progress_sink(ProgressSink* sink);

// One task, reported from construction to destruction. Tasks may nest (an evaluation inside an
// epoch); a sink shows the innermost.
class ProgressTask {
 public:
  ProgressTask(const std::string& what, int64_t total, const std::string& unit);
  ~ProgressTask();
  ProgressTask(const ProgressTask&) = delete;
  ProgressTask& operator=(const ProgressTask&) = delete;
  void advance(int64_t done) {
    if (sink_ != nullptr) sink_->advance(done);
  }

 private:
  ProgressSink* sink_;
};

}  // namespace gradflow
