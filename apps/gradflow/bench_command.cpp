#include <spdlog/spdlog.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>

#include "commands.h"
#include "gradflow/bench.h"
#include "gradflow/config.h"
#include "gradflow/data/idx_source.h"
#include "gradflow/errors.h"
#include "gradflow/train.h"
#include "options.h"

namespace gradflow::cli {

namespace {
struct BenchArgs {
  std::string config;
  std::vector<std::string> overrides;
  std::string data;
  int threads = -1;
  int64_t epochs = 3;
  bool synthetic = false;
  bool stages = false;
  bool json = false;
};

// Steps `--stages` times stage by stage (at most one epoch's full batches).
constexpr int64_t kStageSteps = 300;

// The dataset and the seconds loading it took. IDX files are loaded from .gz — the directory's
// own, or a gzip copy of the same bytes, made once in the system's temporary directory under a
// name derived from the source files' paths, sizes and times.
DataSplits load_timed_from_gz(DataOptions data, double& seconds) {
  namespace fs = std::filesystem;
  const std::vector<std::string> names = data.format == "idx" ? idx_file_stems() : std::vector<std::string>{};
  bool all_gz = true;
  for (const auto& n : names) all_gz = all_gz && fs::exists(fs::path(data.dir) / (n + ".gz"));
  if (!all_gz) {
    std::string sources;
    for (const auto& n : names) {
      const fs::path source = fs::canonical(find_data_file(data.dir, n));
      sources += source.string() + ":" + std::to_string(fs::file_size(source)) + ":" +
                 std::to_string(fs::last_write_time(source).time_since_epoch().count()) + "\n";
    }
    const fs::path copy =
        fs::temp_directory_path() / ("gradflow_bench_gz_" + std::to_string(std::hash<std::string>{}(sources)));
    fs::create_directories(copy);
    // the class names travel with the copy
    const fs::path class_names = fs::path(data.dir) / kClassNamesFile;
    if (fs::exists(class_names)) fs::copy_file(class_names, copy / kClassNamesFile, fs::copy_options::overwrite_existing);
    for (const auto& n : names) {
      const fs::path target = copy / (n + ".gz");
      if (fs::exists(target)) continue;
      std::ifstream in(find_data_file(data.dir, n), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const std::string partial = target.string() + ".tmp";
      gzFile out = gzopen(partial.c_str(), "wb6");
      if (out == nullptr) throw InputError(partial + ": cannot write the gzip copy");
      const bool written = bytes.empty() || gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())) > 0;
      if (gzclose(out) != Z_OK || !written) throw InputError(partial + ": cannot write the gzip copy");
      fs::rename(partial, target);
    }
    data.dir = copy.string();
  }
  const auto t0 = std::chrono::steady_clock::now();
  DataSplits splits = load_data(data);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return splits;
}
}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "time training and evaluation against this machine's matrix-multiply speed");
  cmd->add_option("--config", a->config, "the JSON config to time")->required();
  cmd->add_option("--set", a->overrides, "override a config value: key.path=value; repeatable")->take_all()->allow_extra_args(false);
  cmd->add_option("--epochs", a->epochs, "epochs to time (the first is a warm-up)")->check(CLI::Range(int64_t(1), int64_t(1000)))->capture_default_str();
  cmd->add_flag("--synthetic", a->synthetic, "random data of the configured shape instead of the dataset");
  cmd->add_flag("--stages", a->stages,
                "then time " + std::to_string(kStageSteps) +
                    " more steps stage by stage: gathering the batch, every layer's forward and backward, the head, "
                    "the optimizer's update");
  add_data_option(*cmd, a->data);
  add_threads_option(*cmd, a->threads);
  cmd->add_flag("--json", a->json, "print the result as one JSON object");
  cmd->callback([&action, a]() {
    action = [a]() {
      nlohmann::json raw = load_config_json(a->config, config_overrides(a->overrides, a->data, a->threads));
      const Config config = parse_config(raw);
      const int64_t features = config.model.at("input").get<int64_t>();
      Dataset train, test;
      double gz_seconds = -1;
      if (a->synthetic) {
        const int64_t classes = model_output_size(config.model);
        train = random_dataset(60000 - config.data.validation, features, classes, config.seed);
        test = random_dataset(10000, features, classes, config.seed + 1);
      } else {
        DataSplits splits = load_timed_from_gz(config.data, gz_seconds);
        check_model_fits_data(config, splits.description);
        train = std::move(splits.train);
        test = std::move(splits.test);
      }
      spdlog::info("timing {} epochs of {} on {} samples", a->epochs, config.name, train.size());
      const BenchResult r = benchmark_training(config, train, test, a->epochs, a->stages ? kStageSteps : 0);
      nlohmann::json out = r.to_json();
      out["config"] = config.name;
      out["synthetic"] = a->synthetic;
      if (gz_seconds >= 0) out["load_gz_seconds"] = gz_seconds;
      if (a->json) {
        std::cout << out.dump() << std::endl;
        return 0;
      }
      const std::string products = r.precision == "bf16" ? "bf16 products on " + r.products_run_on
                                                           : r.backend + " products on " + r.products_run_on;
      std::printf("%s: batch %lld, %d threads, %s, %lld training samples%s\n", config.name.c_str(),
                  static_cast<long long>(r.batch), r.threads, products.c_str(), static_cast<long long>(r.train_samples),
                  a->synthetic ? " (synthetic)" : "");
      std::printf("  epoch            %.3f s (median after the first), %.0f samples/s\n", r.seconds_per_epoch,
                  r.samples_per_second);
      std::printf("  training step    %.1f GFLOP/s (%.4f GFLOP executed per step; model count %.4f)\n", r.step_gflops,
                  r.executed_gflop_per_step, r.model_gflop_per_step);
      std::printf("  plain matmul     %.1f GFLOP/s: %s, alone\n", r.matmul_gflops, r.matmul_reference.c_str());
      std::printf("  step / matmul    %.0f%%\n", 100 * r.step_to_matmul());
      std::printf("  evaluation       %.4f s for %lld samples\n", r.eval_seconds, static_cast<long long>(r.eval_samples));
      if (gz_seconds >= 0) std::printf("  load from .gz    %.3f s (train, validation and test)\n", gz_seconds);
      if (!r.stages.empty()) {
        const double total = r.stages_microseconds();
        std::printf("  where a step goes (median of %lld step%s; %.0f us in all):\n", static_cast<long long>(r.stage_steps),
                    r.stage_steps == 1 ? "" : "s", total);
        for (const StageTime& st : r.stages) {
          std::printf("    %-22s %9.1f us %6.1f%%", st.stage.c_str(), st.microseconds, 100 * st.microseconds / total);
          if (st.gflops > 0) std::printf("  %6.1f GFLOP/s", st.gflops);
          std::printf("\n");
        }
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
