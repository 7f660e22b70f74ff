#include <spdlog/spdlog.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "gradflow/bench.h"
#include "gradflow/config.h"
#include "gradflow/errors.h"

namespace gradflow::cli {

namespace {
struct BenchArgs {
  std::string config;
  std::vector<std::string> overrides;
  int64_t epochs = 3;
  bool synthetic = false;
  bool json = false;
};

// Seconds to load the dataset from .gz files: the directory's own, or a gzip copy made once in
// the system's temporary directory.
double gz_load_seconds(DataOptions data) {
  namespace fs = std::filesystem;
  const char* names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                         "t10k-labels-idx1-ubyte"};
  bool all_gz = true;
  for (const char* n : names) all_gz = all_gz && fs::exists(fs::path(data.dir) / (std::string(n) + ".gz"));
  if (!all_gz) {
    const fs::path copy = fs::temp_directory_path() / "gradflow_bench_gz";
    fs::create_directories(copy);
    for (const char* n : names) {
      const fs::path target = copy / (std::string(n) + ".gz");
      if (fs::exists(target)) continue;
      std::ifstream in(find_data_file(data.dir, n), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      gzFile out = gzopen((target.string() + ".tmp").c_str(), "wb6");
      gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(out);
      fs::rename(target.string() + ".tmp", target);
    }
    data.dir = copy.string();
  }
  const auto t0 = std::chrono::steady_clock::now();
  const MnistSplits splits = load_mnist(data);
  if (splits.train.size() == 0) throw InputError(data.dir + ": no training samples");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "time training and evaluation against this machine's matrix-multiply speed");
  cmd->add_option("--config", a->config, "the JSON config to time")->required();
  cmd->add_option("--set", a->overrides, "override a config value: key.path=value; repeatable")->take_all()->allow_extra_args(false);
  cmd->add_option("--epochs", a->epochs, "epochs to time (the first is a warm-up)")->check(CLI::Range(int64_t(1), int64_t(1000)))->capture_default_str();
  cmd->add_flag("--synthetic", a->synthetic, "random data of the configured shape instead of the dataset");
  cmd->add_flag("--json", a->json, "print the result as one JSON object");
  cmd->callback([&action, a]() {
    action = [a]() {
      nlohmann::json raw = load_json_file(a->config);
      for (const auto& assignment : a->overrides) apply_override(raw, assignment);
      const Config config = parse_config(raw);
      const int64_t features = config.model.at("input").get<int64_t>();
      Dataset train, test;
      double gz_seconds = -1;
      if (a->synthetic) {
        train = random_dataset(60000 - config.data.validation, features, config.data.classes, config.seed);
        test = random_dataset(10000, features, config.data.classes, config.seed + 1);
      } else {
        gz_seconds = gz_load_seconds(config.data);
        MnistSplits splits = load_mnist(config.data);
        train = std::move(splits.train);
        test = std::move(splits.test);
        if (train.features() != features) {
          throw ConfigError("/model/input", "expected " + std::to_string(train.features()) + ", got " + std::to_string(features));
        }
      }
      spdlog::info("timing {} epochs of {} on {} samples", a->epochs, config.name, train.size());
      const BenchResult r = benchmark_training(config, train, test, a->epochs);
      nlohmann::json out = r.to_json();
      out["config"] = config.name;
      out["synthetic"] = a->synthetic;
      if (gz_seconds >= 0) out["load_gz_seconds"] = gz_seconds;
      if (a->json) {
        std::cout << out.dump() << std::endl;
        return 0;
      }
      std::printf("%s: batch %lld, %d threads, %lld training samples%s\n", config.name.c_str(),
                  static_cast<long long>(r.batch), r.threads, static_cast<long long>(r.train_samples),
                  a->synthetic ? " (synthetic)" : "");
      std::printf("  epoch            %.3f s (median after the first), %.0f samples/s\n", r.seconds_per_epoch,
                  r.samples_per_second);
      std::printf("  training step    %.1f GFLOP/s (%.4f GFLOP executed per step; model count %.4f)\n", r.step_gflops,
                  r.executed_gflop_per_step, r.model_gflop_per_step);
      std::printf("  plain matmul     %.1f GFLOP/s on the largest layer's shape\n", r.matmul_gflops);
      std::printf("  step / matmul    %.0f%%\n", 100 * r.step_gflops / r.matmul_gflops);
      std::printf("  evaluation       %.4f s for %lld samples\n", r.eval_seconds, static_cast<long long>(r.eval_samples));
      if (gz_seconds >= 0) std::printf("  load from .gz    %.3f s (train, validation and test)\n", gz_seconds);
      return 0;
    };
  });
}

}  // namespace gradflow::cli
