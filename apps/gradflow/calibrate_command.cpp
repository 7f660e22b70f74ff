#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

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

namespace gradflow::cli {

namespace {
struct CalibrateArgs {
  std::string checkpoint;
  std::string data;
  int bins = 15;
  int threads = -1;
  bool json = false;
};
}  // namespace

void add_calibrate_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "fit the temperature T on the validation split and store it in the checkpoint (rewritten atomically)");
  cmd->add_option("--checkpoint", a->checkpoint, "a model.safetensors written by gradflow train")->required();
  add_data_option(*cmd, a->data);
  cmd->add_option("--bins", a->bins, "confidence bins for ECE and MCE")->check(CLI::Range(1, 1000))->capture_default_str();
  add_threads_option(*cmd, a->threads);
  cmd->add_flag("--json", a->json, "print the result as one JSON object on stdout");
  cmd->callback([&action, a]() {
    action = [a]() {
      LoadedCheckpoint loaded = load_checkpoint(a->checkpoint);
      set_threads(threads_of(loaded, a->threads));
      const DataOptions data = data_of(loaded, a->data);
      // only the two splits calibration reads: the training split is never converted
      const DataSplits splits = load_data(data, {Split::Validation, Split::Test});
      const CalibrationResult result = calibrate(loaded.model, splits.validation, splits.test, a->bins);
      store_temperature(a->checkpoint, result.fit.temperature);

      // beside a run's checkpoint, refresh its calibration file and report
      const std::filesystem::path dir = std::filesystem::path(a->checkpoint).parent_path();
      const nlohmann::json out = result.to_json();
      if (std::filesystem::exists(dir / "metrics.jsonl")) {
        write_file_atomic((dir / "calibration.json").string(), out.dump(1) + "\n");
        spdlog::info("report: {}", write_report(dir.empty() ? "." : dir.string()));
      }
      if (a->json) {
        std::cout << out.dump() << std::endl;
      } else {
        const TemperatureFit& f = result.fit;
        std::printf("T = %.6f after %d iterations (|dNLL/dlog T| = %.1e)%s\n", f.temperature, f.iterations,
                    std::fabs(f.gradient), f.bound.empty() ? "" : (" — on the " + f.bound + " bound of the search").c_str());
        std::printf("validation NLL %.4f -> %.4f\n", f.nll_before, f.nll_after);
        std::printf("test: ECE %.4f -> %.4f   MCE %.4f -> %.4f   NLL %.4f -> %.4f   Brier %.4f -> %.4f   accuracy %.4f\n",
                    result.before.ece, result.after.ece, result.before.mce, result.after.mce, result.before.nll,
                    result.after.nll, result.before.brier, result.after.brier, result.after.accuracy);
        std::printf("stored in %s (metadata %s)\n", a->checkpoint.c_str(), kTemperatureKey);
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
