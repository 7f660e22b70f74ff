#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "calibration_view.h"
#include "commands.h"
#include "model_source.h"
#include "options.h"
#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/data/source.h"
#include "gradflow/files.h"
#include "gradflow/report/report.h"
#include "gradflow/train.h"
#include "gradflow/train/summary.h"

namespace gradflow::cli {

namespace {

// A calibrator is fitted to lower the validation NLL: warn when the one being stored made the
// test NLL significantly worse (the interval of the change entirely above 0).
void warn_if_test_nll_worse(const std::string& method, const FigureIntervals& changes) {
  const Interval& nll = changes[static_cast<size_t>(Figure::kNll)];
  if (nll.has_interval() && nll.lower > 0) {
    spdlog::warn("storing the {} calibrator although it made the test NLL significantly worse: {}", method,
                 verdict(Figure::kNll, nll));
  }
}

struct CalibrateArgs {
  std::string checkpoint;
  std::string data;
  std::string method;  // empty: the checkpoint's calibration.method (temperature when it is none)
  int bins = -1;       // -1: the checkpoint's
  int bootstrap = -1;
  int64_t seed = -1;
  int threads = -1;
  std::string precision;  // empty: the checkpoint's config's
  bool compare = false;
  bool json = false;
};

// One method: fit, store, refresh the run's calibration.json and report, print.
int calibrate_one(const CalibrateArgs& a, LoadedCheckpoint& loaded, const DataSplits& splits, const CalibrationSettings& settings) {
  const CalibrationResult result = calibrate(loaded.model, splits.validation, splits.test, settings);
  if (!result.calibrator().fit.value("converged", true)) {
    spdlog::warn("the {} calibrator did not converge: {}", result.calibrator().method(), result.calibrator().fit.dump());
  }
  warn_if_test_nll_worse(result.calibrator().method(), result.changes());
  store_calibrator(a.checkpoint, result.calibrator());
  // beside a run's checkpoint, refresh its calibration file and report
  const std::filesystem::path dir = std::filesystem::path(a.checkpoint).parent_path();
  const nlohmann::json out = result.to_json();
  if (std::filesystem::exists(dir / "metrics.jsonl")) {
    write_file_atomic((dir / "calibration.json").string(), out.dump(1) + "\n");
    // and summary.json's calibration fields, which would otherwise still describe the old calibrator
    const std::filesystem::path summary_path = dir / "summary.json";
    if (std::filesystem::exists(summary_path)) {
      nlohmann::json summary = nlohmann::json::parse(read_file(summary_path.string(), "the run's summary"));
      set_summary_calibration(summary, out);
      write_file_atomic(summary_path.string(), summary.dump(2) + "\n");
    }
    spdlog::info("report: {}", write_report(dir.empty() ? "." : dir.string()));
  }
  if (a.json) {
    std::cout << out.dump() << std::endl;
    return 0;
  }
  print_calibrator(result.calibrator());
  std::printf("validation: %lld samples, NLL %.4f (raw) -> %.4f\n", static_cast<long long>(result.comparison.validation_samples),
              result.calibrator().fit.value("nll_before", 0.0), result.comparison.validation_nll[0]);
  std::printf("test split: ");
  const BootstrapResult& b = result.comparison.bootstrap;
  print_calibration_table({{"before", &result.before(), &b.sets[0]}, {"after", &result.after(), &b.sets[1]}}, b);
  print_changes("changes, after − before (paired bootstrap):", result.changes());
  std::printf("stored in %s (metadata %s)\n", a.checkpoint.c_str(), kCalibratorKey);
  return 0;
}

int compare(const CalibrateArgs& a, LoadedCheckpoint& loaded, const DataSplits& splits, const CalibrationSettings& settings) {
  const CalibrationComparison c =
      compare_calibrators(loaded.model, splits.validation, splits.test, calibration_methods(), settings);
  const size_t best = c.best();
  if (a.json) {
    nlohmann::json out = c.to_json();
    out["stored"] = a.method.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.method);
    std::cout << out.dump() << std::endl;
  } else {
    for (const auto& calibrator : c.calibrators) print_calibrator(*calibrator);
    std::printf("validation split, %lld samples: NLL of each method\n", static_cast<long long>(c.validation_samples));
    for (size_t k = 0; k < c.calibrators.size(); ++k) {
      std::printf("  %-22s in-sample %.5f", c.calibrators[k]->method().c_str(), c.validation_nll[k]);
      if (!c.cross_validated_nll.empty()) std::printf("   %d-fold cross-validated %.5f", c.folds, c.cross_validated_nll[k]);
      std::printf("\n");
    }
    std::vector<CalibrationColumn> columns{{"raw model", &c.before, &c.bootstrap.sets[0]}};
    for (size_t k = 0; k < c.calibrators.size(); ++k) {
      columns.push_back({c.calibrators[k]->method(), &c.after[k], &c.bootstrap.sets[k + 1]});
    }
    std::printf("test split: ");
    print_calibration_table(columns, c.bootstrap);
    for (size_t k = 0; k < c.calibrators.size(); ++k) {
      print_changes(c.calibrators[k]->method() + " − raw model (paired bootstrap):", c.bootstrap.changes[k]);
    }
    if (c.cross_validated_nll.empty()) {
      std::printf("best on validation NLL (in-sample; too few samples to cross-validate): %s (%.5f)\n",
                  c.calibrators[best]->method().c_str(), c.validation_nll[best]);
    } else {
      std::printf("best on validation NLL (%d-fold cross-validated): %s (%.5f)\n", c.folds, c.calibrators[best]->method().c_str(),
                  c.cross_validated_nll[best]);
    }
  }
  if (!a.method.empty()) {
    for (size_t k = 0; k < c.calibrators.size(); ++k) {
      const auto& calibrator = c.calibrators[k];
      if (calibrator->method() != a.method) continue;
      warn_if_test_nll_worse(a.method, c.bootstrap.changes[k]);
      store_calibrator(a.checkpoint, *calibrator);
      if (!a.json) std::printf("stored %s in %s (metadata %s)\n", a.method.c_str(), a.checkpoint.c_str(), kCalibratorKey);
    }
  } else if (!a.json) {
    std::printf("the checkpoint is unchanged (--method M stores one)\n");
  }
  return 0;
}

}  // namespace

void add_calibrate_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "fit a calibrator on the validation split and store it in the checkpoint (rewritten atomically)");
  cmd->add_option("--checkpoint", a->checkpoint, "a model.safetensors written by gradflow train")->required();
  add_data_option(*cmd, a->data);
  cmd->add_option("--method", a->method, "temperature, vector or ensemble_temperature (default: the run's calibration.method)")
      ->check(CLI::IsMember(calibration_methods()));
  cmd->add_flag("--compare", a->compare,
                "fit every method and show their test figures side by side; the checkpoint changes only with --method");
  add_assessment_options(*cmd, a->bins, a->bootstrap, a->seed);
  add_threads_option(*cmd, a->threads);
  add_precision_option(*cmd, a->precision);
  cmd->add_flag("--json", a->json, "print the result as one JSON object on stdout");
  cmd->callback([&action, a]() {
    action = [a]() {
      LoadedCheckpoint loaded = load_checkpoint(a->checkpoint);
      set_threads(threads_of(loaded, a->threads));
      const std::string trained = use_products_of(loaded, a->precision);
      if (!a->precision.empty() && a->precision != trained) {
        spdlog::warn("calibrating on {} logits of a model trained in {}: eval and predict apply the stored calibrator "
                     "to {} logits unless given --precision {}",
                     a->precision, trained, trained, a->precision);
      }
      const DataOptions data = data_of(loaded, a->data);
      CalibrationSettings settings = calibration_settings_of(loaded, a->bins, a->bootstrap, a->seed);
      if (!a->method.empty()) settings.method = a->method;
      // only the two splits calibration reads: the training split is never converted
      const DataSplits splits = load_data(data, {Split::Validation, Split::Test});
      return a->compare ? compare(*a, loaded, splits, settings) : calibrate_one(*a, loaded, splits, settings);
    };
  });
}

}  // namespace gradflow::cli
