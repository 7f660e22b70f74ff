#pragma once
// A training run described in JSON, validated before any work starts. Every error is a
// ConfigError naming the JSON path, e.g. "config error at /optimizer/lr: expected a number > 0".
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "gradflow/data/dataset.h"
#include "gradflow/data/source.h"
#include "gradflow/optim/schedule.h"

namespace gradflow {

// training.early_stopping: stop when the validation metric has not improved by more than
// min_delta for `patience` epochs; with restore_best the run finishes with the best epoch's
// weights (calibrated, tested and saved as model.safetensors).
struct EarlyStoppingOptions {
  bool enabled = false;  // the config has training.early_stopping
  std::string metric = "validation_loss";  // or validation_accuracy
  int64_t patience = 5;
  double min_delta = 0;
  bool restore_best = true;
  bool higher_is_better() const { return metric == "validation_accuracy"; }
};

// training.adversarial: adversarial training with the fast gradient sign method (Goodfellow et
// al. 2015, train/adversarial.h); epsilon 0: off.
struct AdversarialOptions {
  double epsilon = 0;  // ε, in the units of the normalised input ((pixel − data.mean) / data.std)
  double weight = 0.5;  // α: the clean loss's share of the objective
  bool enabled() const { return epsilon > 0; }
};

// training.mixup: mixup (Zhang et al. 2018, train/mixup.h), each step trains on the batch blended
// with a shuffled copy of itself by λ ~ Beta(α, α); alpha 0: off.
struct MixupOptions {
  double alpha = 0;  // α > 0
  bool enabled() const { return alpha > 0; }
};

struct TrainingOptions {
  int64_t epochs = 10;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  int64_t log_grad_every = 0;  // steps between gradient-flow records in grads.jsonl; 0: off
  int64_t checkpoint_every = 0;  // epochs between resumable last.safetensors checkpoints; 0: off
  bool check_replicas = false;   // data-parallel: verify after every step that all ranks hold the same weights
  bool adapt_threads = true;     // use one thread instead of `threads` while that makes steps faster
  double ema = 0;                // decay of the weights' moving average (train/weight_average.h); 0: off
  bool test = true;              // evaluate the test split at the end; false: a tuning run never looks at it
  EarlyStoppingOptions early_stopping;  // also the metric that picks best.safetensors
  AdversarialOptions adversarial;
  MixupOptions mixup;
};

struct CalibrationOptions {
  std::string method = "temperature";  // temperature | vector | ensemble_temperature | none (calibration/calibrator.h)
  int bins = 15;
  int bootstrap = 1000;  // resamples behind every 95% interval of the calibration figures; 0: none
};

struct Config {
  std::string name = "run";
  uint64_t seed = 0;
  int threads = 0;  // 0: all cores
  std::string backend = "auto";  // the product backend (kernels/backend.h); auto: the fastest built
  std::string precision = "fp32";  // the dense layers' products: fp32, or bf16 (kernels/bfloat16.h)
  std::vector<std::string> plugins;  // plugin files the model's layers may come from (plugin.h)
  DataOptions data;
  nlohmann::json model;  // resolved model spec (see model.h)
  nlohmann::json optimizer = {{"type", "sgd"}, {"momentum", 0.0}, {"nesterov", false}, {"weight_decay", 0.0}};
                             // resolved optimizer options (optim/optimizer.h), type included, lr not
  ScheduleOptions schedule;  // schedule.base_lr is the optimizer's lr
  TrainingOptions training;
  CalibrationOptions calibration;
  std::string output_dir = "runs";  // the run directory is <output_dir>/<name>

  nlohmann::json to_json() const;  // the resolved config
  nlohmann::json optimizer_json() const;  // the config's "optimizer" object: type, lr, options: every value, defaults included
};

// Validates `json` and fills in defaults; throws ConfigError.
Config parse_config(const nlohmann::json& json);

// The model's input must take one image of the data, its output one score per class of the
// data: ConfigError at /model/input or at the last layer otherwise.
void check_model_fits_data(const Config& config, const DataDescription& data);

// Reads a JSON file; InputError naming the file (and line/column) when it cannot be read or parsed.
nlohmann::json load_json_file(const std::string& path);

// Reads a config file, applies `overrides` ("key.path=value", as apply_override), and loads the
// plugins the resulting "plugins" list names. Paths written in the file — /data/dir,
// /output/dir, "plugins" — are relative to the file's directory and made absolute in the result;
// paths in `overrides` are relative to the working directory. A checkpoint's config never loads
// plugins by itself: they take --plugin.
nlohmann::json load_config_json(const std::string& path, const std::vector<std::string>& overrides = {});

// Applies "a.b.c=value" to `json`: the value is parsed as JSON, else taken as a string.
// Array elements are addressed by index ("model.layers.0.units=256"); "key=null" removes an
// object's key, so its default applies ("optimizer.momentum=null" before switching to adam).
void apply_override(nlohmann::json& json, const std::string& assignment);

}  // namespace gradflow
