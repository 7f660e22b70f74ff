#include <spdlog/spdlog.h>

#include <iostream>

#include "commands.h"
#include "model_source.h"
#include "options.h"
#include "gradflow/calibration/calibrate.h"
#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/data/source.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"
#include "gradflow/npy.h"
#include "gradflow/train.h"

namespace gradflow::cli {

namespace {
struct EvalArgs {
  std::string checkpoint;
  std::string data;
  std::string split = "test";
  std::string save_logits;
  int64_t batch = 1000;
  int bins = 15;
  int threads = -1;
  bool no_temperature = false;
  bool json = false;
};
}  // namespace

void add_eval_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a checkpoint on a split of its dataset, with calibration metrics");
  cmd->add_option("--checkpoint", args->checkpoint, "a model.safetensors written by gradflow train")->required();
  add_data_option(*cmd, args->data);
  cmd->add_option("--split", args->split, "which split to evaluate")
      ->check(CLI::IsMember({"test", "validation", "train"}))
      ->capture_default_str();
  cmd->add_flag("--no-temperature", args->no_temperature, "show the raw model, without the calibrated temperature");
  cmd->add_option("--save-logits", args->save_logits, "write the raw logits of the split as a float32 [N, classes] .npy");
  cmd->add_option("--bins", args->bins, "confidence bins for ECE and MCE")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--batch", args->batch, "evaluation batch size")->check(CLI::Range(1, 1000000))->capture_default_str();
  add_threads_option(*cmd, args->threads);
  cmd->add_flag("--json", args->json, "print the result as one JSON object on stdout");
  cmd->callback([&action, args]() {
    action = [args]() {
      LoadedCheckpoint loaded = load_checkpoint(args->checkpoint);
      set_threads(threads_of(loaded, args->threads));
      const DataOptions data = data_of(loaded, args->data);
      const double raw_t = loaded.model.head().temperature();
      const double calibrated_t = stored_temperature(loaded.metadata, raw_t);
      const double t = args->no_temperature ? raw_t : calibrated_t;
      spdlog::info("evaluating {} on the {} split of {} (T = {:.4g})", args->checkpoint, args->split, data.dir, t);
      const Dataset dataset = load_split(data, parse_split(args->split));
      if (dataset.size() == 0) {
        throw InputError("the " + args->split + " split of " + data.dir + " is empty" +
                         (args->split == "validation" ? " (data.validation = 0)" : "") + ": nothing to evaluate");
      }
      if (dataset.features() != loaded.model.input_size()) {
        throw InputError(data.dir + ": images have " + std::to_string(dataset.features()) + " features, the model in " +
                         args->checkpoint + " expects " + std::to_string(loaded.model.input_size()));
      }
      const Matrix logits = predict_logits(loaded.model, dataset.images, args->batch);
      if (!args->save_logits.empty()) write_npy(args->save_logits, logits);
      const CalibrationMetrics before = calibration_metrics(logits, dataset.labels, raw_t, args->bins);
      const CalibrationMetrics after = calibration_metrics(logits, dataset.labels, calibrated_t, args->bins);
      const CalibrationMetrics& shown = args->no_temperature ? before : after;
      // per class, named as in the checkpoint: the share of its samples predicted right
      const auto classes = static_cast<size_t>(loaded.model.classes());
      std::vector<int64_t> samples(classes, 0), right(classes, 0);
      for (Eigen::Index i = 0; i < logits.rows(); ++i) {
        Eigen::Index predicted = 0;
        logits.row(i).maxCoeff(&predicted);
        const auto label = static_cast<size_t>(dataset.labels[i]);
        ++samples[label];
        right[label] += predicted == dataset.labels[i];
      }
      auto class_accuracy = [&](size_t k) {
        return samples[k] > 0 ? static_cast<double>(right[k]) / static_cast<double>(samples[k]) : 0.0;
      };
      nlohmann::json per_class = nlohmann::json::array();
      for (size_t k = 0; k < classes; ++k) {
        per_class.push_back({{"class", k}, {"name", loaded.data.class_names[k]}, {"samples", samples[k]},
                             {"accuracy", class_accuracy(k)}});
      }
      if (args->json) {
        nlohmann::json out{{"checkpoint", args->checkpoint}, {"split", args->split}, {"data", data.dir},
                           {"samples", shown.count}, {"accuracy", shown.accuracy}, {"loss", shown.nll},
                           {"temperature", t}, {"calibrated_temperature", calibrated_t},
                           {"before", before.to_json()}, {"classes", per_class}};
        if (!args->no_temperature) out["after"] = after.to_json();
        if (!args->save_logits.empty()) out["logits"] = args->save_logits;
        std::cout << out.dump() << std::endl;
      } else {
        std::printf("%s split, %lld samples, T = %.4g%s\n", args->split.c_str(), static_cast<long long>(shown.count), t,
                    args->no_temperature ? " (raw model)" : "");
        // the raw model alone with --no-temperature, else before and after the calibrated T
        const std::vector<std::pair<const char*, double CalibrationMetrics::*>> rows{
            {"accuracy", &CalibrationMetrics::accuracy}, {"NLL", &CalibrationMetrics::nll},
            {"Brier", &CalibrationMetrics::brier},       {"ECE", &CalibrationMetrics::ece},
            {"MCE", &CalibrationMetrics::mce}};
        if (args->no_temperature) {
          for (const auto& [name, field] : rows) std::printf("  %-10s %10.4f\n", name, before.*field);
        } else {
          std::printf("  %-10s %10s %10s\n", "", "before T", "after T");
          for (const auto& [name, field] : rows) std::printf("  %-10s %10.4f %10.4f\n", name, before.*field, after.*field);
        }
        std::printf("per class (accuracy of the samples of that class):\n");
        for (size_t k = 0; k < classes; ++k) {
          std::printf("  %-16s %10.4f  %lld samples\n", loaded.data.class_names[k].c_str(), class_accuracy(k),
                      static_cast<long long>(samples[k]));
        }
        if (!args->save_logits.empty()) std::printf("raw logits written to %s\n", args->save_logits.c_str());
      }
      return 0;
    };
  });
}

}  // namespace gradflow::cli
