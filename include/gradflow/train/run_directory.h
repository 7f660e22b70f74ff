#pragma once
// A run directory and the files a training run writes into it:
//   config.json        the resolved config
//   metrics.jsonl      one object per epoch
//   grads.jsonl        gradient-flow records, with training.log_grad_every
//   last.safetensors   the resumable state, with training.checkpoint_every or on interrupt
//   best.safetensors   the model of the epoch with the best validation metric so far
//   model.safetensors, summary.json, calibration.json, report.html   written when the run finishes
// One process at a time: claim() takes an exclusive lock (.gradflow.lock, holding the PID), so a
// second process training into the same directory stops with an error naming the first.
// A new run never silently replaces an earlier run's results: claim() refuses unless asked to
// replace them. For a resumed run it keeps the log lines before the resumed position.
#include <nlohmann/json.hpp>
#include <string>

#include "gradflow/train_state.h"

namespace gradflow {

class RunDirectory {
 public:
  explicit RunDirectory(std::string dir);
  ~RunDirectory();  // releases the lock
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  // Creates the directory and locks it; InputError naming the holder's PID when another process
  // holds the lock. For a new run (`resuming` false) that finds an earlier run's results there
  // (metrics, checkpoints, summary, report): InputError saying how to resume, replace or avoid
  // them, unless `replace`, which removes them. Temporary files left by a killed process are
  // removed. Call before any work starts.
  void claim(bool resuming, bool replace);

  // Before a resume: InputError naming config.json and the first key that differs, when the file
  // no longer holds `checkpoint_config` (the config the checkpoint was written with). A resume
  // trains with the checkpoint's config and --set; an edit to the file would silently be lost.
  void check_config_unedited(const nlohmann::json& checkpoint_config) const;

  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const;  // dir/name
  std::string metrics() const { return file("metrics.jsonl"); }
  std::string gradients() const { return file("grads.jsonl"); }
  std::string model() const { return file("model.safetensors"); }
  std::string last() const { return file("last.safetensors"); }
  std::string best() const { return file("best.safetensors"); }
  std::string summary() const { return file("summary.json"); }
  std::string calibration() const { return file("calibration.json"); }

  // Writes config.json (after claim()). A new run (`resumed` null) starts empty logs;
  // a resumed run keeps the metrics of epochs before resumed->epoch and the gradient records of
  // steps before resumed->step. Either way the finished-run files (summary, calibration,
  // report) are removed: they are written again when this run finishes.
  void prepare(const nlohmann::json& resolved_config, const TrainPosition* resumed);

  void append_metrics(const nlohmann::json& record) const;
  void append_gradients(const nlohmann::json& record) const;

 private:
  // Removes NAME.PID.tmp files whose process is gone (killed while writing NAME).
  void remove_stale_temporaries() const;

  std::string dir_;
  int lock_ = -1;  // the locked file's descriptor while claimed
};

}  // namespace gradflow
