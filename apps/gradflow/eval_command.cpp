#include <spdlog/spdlog.h>

#include <iostream>

#include "calibration_view.h"
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
  int bins = -1;       // -1: the checkpoint's calibration settings
  int bootstrap = -1;
  int64_t seed = -1;
  int threads = -1;
  std::string precision;  // empty: the checkpoint's config's
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
  cmd->add_flag("--no-temperature", args->no_temperature, "show the raw model, without the stored calibrator");
  cmd->add_option("--save-logits", args->save_logits, "write the raw logits of the split as a float32 [N, classes] .npy");
  add_assessment_options(*cmd, args->bins, args->bootstrap, args->seed);
  cmd->add_option("--batch", args->batch, "evaluation batch size")->check(CLI::Range(1, 1000000))->capture_default_str();
  add_threads_option(*cmd, args->threads);
  add_precision_option(*cmd, args->precision);
  cmd->add_flag("--json", args->json, "print the result as one JSON object on stdout");
  cmd->callback([&action, args]() {
    action = [args]() {
      LoadedCheckpoint loaded = load_checkpoint(args->checkpoint);
      set_threads(threads_of(loaded, args->threads));
      use_products_of(loaded, args->precision);
      const DataOptions data = data_of(loaded, args->data);
      const double raw_t = loaded.model.head().temperature();
      const std::unique_ptr<Calibrator> raw = temperature_calibrator(raw_t);
      const std::unique_ptr<Calibrator> stored = stored_calibrator(loaded.metadata, raw_t);
      const Calibrator& shown_calibrator = args->no_temperature ? *raw : *stored;
      const double t = shown_calibrator.parameters().value("temperature", raw_t);
      const CalibrationSettings settings = calibration_settings_of(loaded, args->bins, args->bootstrap, args->seed);
      spdlog::info("evaluating {} on the {} split of {} ({})", args->checkpoint, args->split, data.dir, shown_calibrator.method());
      if (args->split == "validation" && !args->no_temperature && stored->method() != "none") {
        spdlog::warn("the stored {} calibrator was fitted on the validation split: its calibrated figures here are "
                     "in-sample (optimistic); the test split measures it",
                     stored->method());
      }
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
      const Assessment before = assess(*raw, logits, dataset.labels, settings);
      std::vector<Assessment> after;  // empty with --no-temperature
      if (!args->no_temperature) after.push_back(assess(*stored, logits, dataset.labels, settings));
      std::vector<const SampleScores*> sets{&before.scores};
      if (!after.empty()) sets.push_back(&after[0].scores);
      const BootstrapResult intervals = bootstrap(sets, settings.bootstrap, settings.seed);
      const CalibrationMetrics& shown = after.empty() ? before.metrics : after[0].metrics;
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
      // per-class accuracy is of the shown predictions' argmax (vector scaling may change it)
      if (!after.empty() && stored->method() == "vector") {
        const MatrixT<double> p = stored->probabilities(logits);
        std::fill(right.begin(), right.end(), 0);
        for (Eigen::Index i = 0; i < p.rows(); ++i) {
          Eigen::Index predicted = 0;
          p.row(i).maxCoeff(&predicted);
          right[static_cast<size_t>(dataset.labels[i])] += predicted == dataset.labels[i];
        }
        per_class = nlohmann::json::array();
        for (size_t k = 0; k < classes; ++k) {
          per_class.push_back({{"class", k}, {"name", loaded.data.class_names[k]}, {"samples", samples[k]},
                               {"accuracy", class_accuracy(k)}});
        }
      }
      if (args->json) {
        auto with_intervals = [](const Assessment& a, const FigureIntervals& i) {
          nlohmann::json j = a.to_json();
          j["intervals"] = intervals_json(i);
          return j;
        };
        nlohmann::json out{{"checkpoint", args->checkpoint}, {"split", args->split}, {"data", data.dir},
                           {"samples", shown.count}, {"accuracy", shown.accuracy}, {"loss", shown.nll},
                           {"temperature", t}, {"calibrated_temperature", stored->parameters().value("temperature", raw_t)},
                           {"calibrator", stored->to_json()}, {"method", shown_calibrator.method()},
                           {"before", with_intervals(before, intervals.sets[0])}, {"bootstrap", intervals.to_json()},
                           {"classes", per_class}};
        if (!after.empty()) {
          out["after"] = with_intervals(after[0], intervals.sets[1]);
          out["changes"] = changes_json(intervals.changes[0]);
        }
        if (!args->save_logits.empty()) out["logits"] = args->save_logits;
        std::cout << out.dump() << std::endl;
      } else {
        std::printf("%s split, %s\n", args->split.c_str(),
                    args->no_temperature ? "the model as trained (raw model)" : "the raw model and the stored calibrator:");
        if (!args->no_temperature) print_calibrator(*stored);
        // the raw model alone with --no-temperature, else before and after the stored calibrator
        if (after.empty()) {
          print_calibration_table({{"raw model", &before, &intervals.sets[0]}}, intervals);
        } else {
          print_calibration_table({{"raw model", &before, &intervals.sets[0]}, {"calibrated", &after[0], &intervals.sets[1]}},
                                  intervals);
          print_changes("changes, calibrated − raw (paired bootstrap):", intervals.changes[0]);
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
