#include "gradflow/train/finish.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <map>

#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"
#include "gradflow/evaluate.h"
#include "gradflow/files.h"
#include "gradflow/report/report.h"

namespace gradflow {

void finish_run(Sequential<float>& model, const Config& config, const DataDescription& data, const Dataset& validation,
                const Dataset& test, const RunDirectory& dir, TrainSummary& summary,
                std::chrono::steady_clock::time_point run_start, Communicator& ranks) {
  std::map<std::string, std::string> metadata{{kDataDescriptionKey, data.to_json().dump()}};
  const bool writer = ranks.rank() == 0;
  if (writer && config.calibration.method != "none" && !config.training.test) {
    spdlog::info("training.test is false: no calibration (its figures are measured on the test split)");
  } else if (writer && config.calibration.method != "none") {
    if (validation.size() < kMinimumValidationSamples) {
      spdlog::warn("the validation split has {} samples, calibration needs at least {} (data.validation): skipping it",
                   validation.size(), kMinimumValidationSamples);
    } else {
      CalibrationSettings settings;
      settings.method = config.calibration.method;
      settings.bins = config.calibration.bins;
      settings.bootstrap = config.calibration.bootstrap;
      settings.seed = config.seed;
      settings.batch_size = config.training.eval_batch_size;
      const CalibrationResult calibration = calibrate(model, validation, test, settings);
      put_calibrator(metadata, calibration.calibrator());
      summary.calibration = calibration.to_json();
      write_file_atomic(dir.calibration(), summary.calibration.dump(1) + "\n");
      const CalibrationMetrics &before = calibration.before().metrics, &after = calibration.after().metrics;
      spdlog::info("calibration ({}): test ECE {:.4f} -> {:.4f} (noise floor {:.4f}), NLL {:.4f} -> {:.4f}",
                   calibration.calibrator().method(), before.ece, after.ece,
                   calibration.after().estimators.noise.equal_width.mean, before.nll, after.nll);
      for (const Figure f : {Figure::kNll, Figure::kEce}) {
        spdlog::info("  {}", verdict(f, calibration.changes()[static_cast<size_t>(f)]));
      }
      if (!calibration.calibrator().fit.value("converged", true)) {
        spdlog::warn("the {} calibrator did not converge: {}", calibration.calibrator().method(),
                     calibration.calibrator().fit.dump());
      }
    }
  }
  if (writer) save_checkpoint(dir.model(), model, config.to_json(), metadata);
  summary.tested = config.training.test;
  if (summary.tested) summary.test = evaluate(model, test, config.training.eval_batch_size, &ranks);
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  if (!writer) return;
  write_file_atomic(dir.summary(), summary.to_json().dump(2) + "\n");
  const std::string times = fmt::format("{:.1f} s training, {:.1f} s in all{}", summary.train_seconds, summary.total_seconds,
                                        summary.sessions > 1 ? ", over " + std::to_string(summary.sessions) + " sessions" : std::string());
  if (summary.tested) {
    spdlog::info("test loss {:.4f} acc {:.2f}%  ({})", summary.test.loss, 100 * summary.test.accuracy, times);
  } else {
    spdlog::info("test split not evaluated (training.test is false)  ({})", times);
  }
  spdlog::info("report: {}", write_report(dir.dir()));
}

}  // namespace gradflow
