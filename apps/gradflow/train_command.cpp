#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "commands.h"
#include "gradflow/config.h"
#include "gradflow/train.h"
#include "progress_bar.h"

namespace gradflow::cli {

namespace {
struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
  bool json = false;
};
}  // namespace

void add_train_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train a model from a JSON config");
  cmd->add_option("--config", args->config, "the JSON config file")->required();
  cmd->add_option("--set", args->overrides, "override a config value: key.path=value (value parsed as JSON, else a string); repeatable")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--out", args->out, "the run directory (default: <output.dir>/<name> from the config)");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout");
  cmd->callback([&action, args]() {
    action = [args]() {
      nlohmann::json raw = load_json_file(args->config);
      for (const auto& assignment : args->overrides) apply_override(raw, assignment);
      const Config config = parse_config(raw);
      const std::string run_dir =
          args->out.empty() ? (std::filesystem::path(config.output_dir) / config.name).string() : args->out;

      ProgressBar bar;
      const TrainSummary summary = train(config, run_dir, ProgressBar::wanted() ? &bar : nullptr);
      if (args->json) {
        std::cout << summary.to_json().dump() << std::endl;
      } else {
        std::cout << "test accuracy " << summary.test.accuracy * 100 << "%  test loss " << summary.test.loss << "\n"
                  << "trained " << summary.last_epoch.epoch << " epochs in " << summary.train_seconds << " s\n"
                  << "outputs in " << run_dir << "/: config.json metrics.jsonl model.safetensors summary.json";
        if (!summary.calibration.is_null()) {
          std::cout << " calibration.json\ntemperature T = " << summary.calibration["fit"]["temperature"].get<double>()
                    << "  test ECE " << summary.calibration["test_before"]["ece"].get<double>() << " -> "
                    << summary.calibration["test_after"]["ece"].get<double>();
        }
        std::cout << "\nreport: " << run_dir << "/report.html" << std::endl;
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
