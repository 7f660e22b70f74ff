#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <limits>

#include "commands.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/data/dataset.h"
#include "gradflow/errors.h"
#include "gradflow/gradcheck.h"
#include "gradflow/train.h"
#include "model_source.h"
#include "options.h"

namespace gradflow::cli {

namespace {
struct GradcheckArgs {
  ModelSource source;
  int64_t count = 8;
  int64_t entries = kDefaultCheckEntries;
  double tolerance = 1e-6;
  uint64_t seed = 0;
  bool json = false;
};
}  // namespace

void add_gradcheck_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<GradcheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gradcheck", "check every parameter gradient and the input gradient against finite differences (double precision)");
  add_model_source_options(*cmd, a->source);
  cmd->add_option("--count", a->count, "mini-batch size")->check(CLI::Range(int64_t(1), int64_t(10000)))->capture_default_str();
  add_entries_option(*cmd, a->entries);
  cmd->add_option("--tolerance", a->tolerance, "largest relative error accepted")->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed for the batch and the entries")
      ->check(integer_in(0, std::numeric_limits<int64_t>::max()))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print the result as one JSON object");
  cmd->callback([&action, a]() {
    action = [a]() {
      SourcedModel sourced = load_model(a->source);
      set_threads(sourced.config.threads);
      use_product_backend(sourced.config.backend);
      std::mt19937_64 rng(a->seed);
      Matrix x(a->count, sourced.model.input_size());
      Labels y(a->count);
      std::string batch_from;
      try {
        const Dataset data = load_split(sourced.config.data, Split::Train);
        if (data.features() != sourced.model.input_size()) throw InputError("feature count differs from the model");
        std::uniform_int_distribution<int64_t> any(0, data.size() - 1);
        for (int64_t i = 0; i < a->count; ++i) {
          const int64_t k = any(rng);
          x.row(i) = data.images.row(k);
          y[i] = data.labels[k];
        }
        batch_from = "random training samples of " + sourced.config.data.dir;
      } catch (const InputError& e) {
        if (!a->source.data.empty()) throw;  // the data asked for by name must be there
        spdlog::warn("no training data ({}); checking on random inputs", e.what());
        std::normal_distribution<float> normal;
        std::uniform_int_distribution<int> label(0, static_cast<int>(sourced.model.classes()) - 1);
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
        for (int64_t i = 0; i < a->count; ++i) y[i] = label(rng);
        batch_from = "random normal inputs";
      }
      GradCheckOptions options;
      options.entries_per_tensor = a->entries;
      options.tolerance = a->tolerance;
      options.seed = a->seed;
      const GradCheckResult result = check_gradients(sourced.model, x, y, options);
      if (a->json) {
        nlohmann::json out = result.to_json();
        out["batch"] = batch_from;
        out["count"] = a->count;
        std::cout << out.dump() << std::endl;
      } else {
        std::printf("finite-difference check on %lld %s (double precision, h = %.0e)\n", static_cast<long long>(a->count),
                    batch_from.c_str(), options.step);
        std::printf("  %-10s %-14s %8s %14s %20s\n", "tensor", "shape", "checked", "‖analytic‖", "max relative error");
        for (const auto& t : result.tensors) {
          std::string shape = "(";
          for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
          shape += ")";
          std::printf("  %-10s %-14s %8lld %14.4g %20.2e  %s\n", t.name.c_str(), shape.c_str(),
                      static_cast<long long>(t.checked), t.analytic_norm, t.max_relative_error,
                      t.max_relative_error <= result.tolerance ? "ok" : "FAILED");
        }
        std::printf("%s: worst %.2e, tolerance %.0e\n", result.passed() ? "passed" : "FAILED", result.worst(), result.tolerance);
      }
      return result.passed() ? 0 : 1;
    };
  });
}

}  // namespace gradflow::cli
