#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "gradflow/config.h"
#include "gradflow/distributed/communicator.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"
#include "gradflow/train.h"
#include "gradflow/train_state.h"
#include "options.h"
#include "progress_bar.h"

namespace gradflow::cli {

namespace {
struct TrainArgs {
  std::string config;
  std::string resume;
  std::vector<std::string> overrides;
  std::string out;
  std::string data;
  int threads = -1;
  bool json = false;
  bool force = false;
};

// What a finished run says on stdout, each line within 80 columns but for long paths.
void print_summary(const TrainSummary& summary, const std::string& run_dir) {
  const int64_t epochs = summary.last_epoch.epoch;
  if (summary.tested) {
    std::printf("test accuracy %.2f%%  loss %.4f\n", 100 * summary.test.accuracy, summary.test.loss);
  } else {
    std::printf("test split not evaluated (training.test is false); validation accuracy %.2f%%\n",
                100 * (summary.restored_best ? summary.best : summary.last_epoch).validation_accuracy);
  }
  std::printf("trained %lld epoch%s%s in %.1f s of training, %.1f s in all", static_cast<long long>(epochs),
              epochs == 1 ? "" : "s", summary.stopped_early ? " (stopped early)" : "", summary.train_seconds,
              summary.total_seconds);
  if (summary.sessions > 1) std::printf(" (%lld sessions)", static_cast<long long>(summary.sessions));
  std::printf("\n");
  if (summary.best_epoch > 0) {
    const bool accuracy = summary.best_metric == "validation_accuracy";
    std::printf("best epoch %lld (validation %s %.4g): %s\n", static_cast<long long>(summary.best_epoch),
                accuracy ? "accuracy" : "loss", summary.best_value,
                summary.restored_best ? "the model has its weights" : "best.safetensors");
  }
  if (!summary.calibration.is_null()) {
    const nlohmann::json& c = summary.calibration;
    const std::string method = c["method"];
    if (method == "temperature") {
      std::printf("temperature T = %.4f", c["fit"]["temperature"].get<double>());
    } else {
      std::printf("calibration %s", method.c_str());
    }
    // the ECE beside what a calibrated model with these confidences would show by chance
    std::printf("  test ECE %.2f%% -> %.2f%% (noise floor %.2f%%)\n", 100 * c["test_before"]["ece"].get<double>(),
                100 * c["test_after"]["ece"].get<double>(),
                100 * c["test_after"]["estimators"]["noise_floor"]["mean"].get<double>());
    for (const char* key : {"nll", "ece"}) std::printf("  %s\n", c["changes"][key]["verdict"].get<std::string>().c_str());
  }
  std::printf("run directory %s/\nreport %s/report.html\n", run_dir.c_str(), run_dir.c_str());
  std::fflush(stdout);
}
}  // namespace

void add_train_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train a model from a JSON config, or resume an interrupted run; under "
                                              "mpirun -np N, data-parallel over N processes (training.batch_size is the "
                                              "global batch)");
  auto* config_option = cmd->add_option("--config", args->config, "the JSON config file");
  auto* resume_option = cmd->add_option("--resume", args->resume, "continue the run saved in this last.safetensors");
  config_option->excludes(resume_option);
  cmd->add_option("--set", args->overrides, "override a config value: key.path=value (value parsed as JSON, else a string); repeatable")
      ->take_all()
      ->allow_extra_args(false);
  cmd->add_option("--out", args->out, "the run directory (default: <output.dir>/<name>, or the resumed checkpoint's directory)")
      ->check(CLI::Validator([](std::string& s) { return s.empty() ? std::string("an empty path") : std::string(); }, "DIR"));
  add_data_option(*cmd, args->data);
  add_threads_option(*cmd, args->threads);
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout");
  cmd->add_flag("--force", args->force, "replace an earlier run's results in the run directory");
  cmd->callback([&action, args]() {
    action = [args]() {
      if (args->config.empty() == args->resume.empty()) throw InputError("give --config FILE or --resume CHECKPOINT");
      const std::vector<std::string> overrides = config_overrides(args->overrides, args->data, args->threads);
      std::unique_ptr<TrainState> state;
      nlohmann::json raw;
      if (!args->resume.empty()) {
        state = std::make_unique<TrainState>(load_train_state(args->resume));
        raw = state->checkpoint.config;
        for (const auto& assignment : overrides) apply_override(raw, assignment);
      } else {
        raw = load_config_json(args->config, overrides);
      }
      const Config config = parse_config(raw);
      std::string run_dir = args->out;
      if (run_dir.empty()) {
        run_dir = state ? std::filesystem::path(args->resume).parent_path().string()
                        : (std::filesystem::path(config.output_dir) / config.name).string();
        if (run_dir.empty()) run_dir = ".";
        run_dir = display_path(run_dir);
      }

      const std::atomic<bool>& stop_requested = install_stop_handlers();
      ProgressBar bar;
      TrainControl control;
      control.resume = state.get();
      control.stop = &stop_requested;
      control.replace = args->force;
      control.ranks = &world();  // every rank of mpirun, or this process alone
      const TrainSummary summary = train(config, run_dir, stderr_is_terminal() ? &bar : nullptr, control);
      // Under mpirun a rank that exits non-zero makes mpirun kill the others at once: after an
      // interruption every rank waits until rank 0 has saved and said how to resume.
      if (world().rank() != 0) {
        if (summary.interrupted) world().barrier();
        return summary.interrupted ? 130 : 0;  // rank 0 reports
      }
      if (summary.interrupted) {
        // a command that runs as printed: this program's path, and mpirun as Open MPI wants it here
        std::string launcher;
        if (world().distributed()) {
          launcher = std::string("mpirun ") + (geteuid() == 0 ? "--allow-run-as-root " : "") + "-np " +
                     std::to_string(world().size()) + " ";
        }
        std::fprintf(stderr, "gradflow: interrupted at epoch %lld, step %lld; resume with: %s%s train --resume %s/last.safetensors\n",
                     static_cast<long long>(summary.position.epoch), static_cast<long long>(summary.position.step),
                     launcher.c_str(), invoked_as().c_str(), run_dir.c_str());
        world().barrier();
        return 130;
      }
      if (args->json) {
        std::cout << summary.to_json().dump() << std::endl;
      } else {
        print_summary(summary, run_dir);
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
