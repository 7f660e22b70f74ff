#include "gradflow/train/finish.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>

#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"
#include "gradflow/evaluate.h"
#include "gradflow/files.h"
#include "gradflow/report/report.h"

namespace gradflow {

void finish_run(Sequential<float>& model, const Config& config, const DataDescription& data, const Dataset& validation,
                const Dataset& test,
                const RunDirectory& dir, TrainSummary& summary, std::chrono::steady_clock::time_point run_start) {
  std::map<std::string, std::string> metadata{{kDataDescriptionKey, data.to_json().dump()}};
  if (config.calibration.method == "temperature") {
    if (validation.size() == 0) {
      spdlog::warn("no validation split (data.validation = 0): skipping temperature scaling");
    } else {
      const CalibrationResult calibration =
          calibrate(model, validation, test, config.calibration.bins, config.training.eval_batch_size);
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", calibration.fit.temperature);
      metadata[kTemperatureKey] = text;
      summary.calibration = calibration.to_json();
      write_file_atomic(dir.calibration(), summary.calibration.dump(1) + "\n");
      spdlog::info("temperature scaling: T = {:.4f}{} ({} iterations); test ECE {:.4f} -> {:.4f}, NLL {:.4f} -> {:.4f}",
                   calibration.fit.temperature,
                   calibration.fit.bound.empty() ? "" : " (at the " + calibration.fit.bound + " bound)",
                   calibration.fit.iterations, calibration.before.ece, calibration.after.ece, calibration.before.nll,
                   calibration.after.nll);
    }
  }
  save_checkpoint(dir.model(), model, config.to_json(), metadata);
  summary.test = evaluate(model, test, config.training.eval_batch_size);
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  write_file_atomic(dir.summary(), summary.to_json().dump(2) + "\n");
  spdlog::info("test loss {:.4f} acc {:.2f}%  ({:.1f} s training, {:.1f} s in all{})", summary.test.loss,
               100 * summary.test.accuracy, summary.train_seconds, summary.total_seconds,
               summary.sessions > 1 ? ", over " + std::to_string(summary.sessions) + " sessions" : std::string());
  spdlog::info("report: {}", write_report(dir.dir()));
}

}  // namespace gradflow
