#include "gradflow/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gradflow/calibration/bootstrap.h"
#include "gradflow/data/source.h"
#include "gradflow/errors.h"
#include "gradflow/files.h"
#include "gradflow/plugin.h"
#include "gradflow/json_check.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/model.h"
#include "gradflow/optim/optimizer.h"

namespace gradflow {

namespace jc = json_check;
using nlohmann::json;

namespace {

json section(const json& root, const std::string& key, const std::vector<std::string>& known) {
  const std::string path = "/" + key;
  if (!root.contains(key)) return json::object();
  const json& value = root.at(key);
  jc::expect_object(value, path);
  jc::reject_unknown_keys(value, path, known);
  return value;
}

// data.class_names: distinct, non-empty strings, at least 2 (or absent).
std::vector<std::string> class_names(const json& data) {
  if (!data.contains("class_names")) return {};
  const json& names = data.at("class_names");
  if (!names.is_array() || names.size() < 2) {
    throw ConfigError("/data/class_names", "expected an array of at least 2 class names, got " + jc::show(names));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string path = "/data/class_names/" + std::to_string(i);
    if (!names[i].is_string() || names[i].get<std::string>().empty()) {
      throw ConfigError(path, "expected a non-empty string, got " + jc::show(names[i]));
    }
    if (std::find(out.begin(), out.end(), names[i].get<std::string>()) != out.end()) {
      throw ConfigError(path, "the class name " + jc::show(names[i]) + " appears twice");
    }
    out.push_back(names[i].get<std::string>());
  }
  return out;
}

}  // namespace

Config parse_config(const json& root) {
  jc::expect_object(root, "");
  jc::reject_unknown_keys(root, "",
                          {"name", "seed", "threads", "backend", "precision", "plugins", "data", "model", "optimizer", "schedule",
                           "training", "calibration", "output"});
  Config c;
  if (root.contains("plugins")) {
    if (!root["plugins"].is_array()) throw ConfigError("/plugins", "expected an array of plugin files, got " + jc::show(root["plugins"]));
    for (size_t i = 0; i < root["plugins"].size(); ++i) {
      const json& p = root["plugins"][i];
      if (!p.is_string() || p.get<std::string>().empty()) {
        throw ConfigError("/plugins/" + std::to_string(i), "expected the path of a plugin file, got " + jc::show(p));
      }
      c.plugins.push_back(p.get<std::string>());
    }
  }
  c.name = jc::string(root, "name", "", c.name);
  if (c.name.empty() || c.name.find('/') != std::string::npos || c.name == "." || c.name == "..") {
    throw ConfigError("/name", "expected a non-empty name without '/', got " + jc::show(root["name"]));
  }
  c.seed = static_cast<uint64_t>(jc::integer(root, "seed", "", 0, {0, 9.007e15}));
  c.threads = static_cast<int>(jc::integer(root, "threads", "", 0, {0, 1024}));
  c.backend = jc::string(root, "backend", "", c.backend, ProductBackends::instance().names());
  c.precision = jc::string(root, "precision", "", c.precision, {"fp32", "bf16"});

  const json data = section(root, "data", {"format", "dir", "validation", "mean", "std", "class_names", "digits"});
  c.data.format = jc::string(data, "format", "/data", c.data.format, DataSourceRegistry::instance().formats());
  c.data.dir = jc::string(data, "dir", "/data", c.data.dir);
  c.data.validation = jc::integer(data, "validation", "/data", c.data.validation, jc::at_least(0));
  // pixels lie in [0, 1]: a mean or std far outside that turns every input into noise or inf
  c.data.mean = jc::number(data, "mean", "/data", c.data.mean, {-1e3, 1e3});
  c.data.std = jc::number(data, "std", "/data", c.data.std, {1e-6, 1e6});
  c.data.class_names = class_names(data);
  if (data.contains("digits")) c.data.digits = jc::boolean(data, "digits", "/data", std::nullopt);

  if (!root.contains("model")) throw ConfigError("/model", "missing required value");
  c.model = resolve_model_spec(root.at("model"), "/model");
  if (!c.data.class_names.empty() && static_cast<int64_t>(c.data.class_names.size()) != model_output_size(c.model)) {
    throw ConfigError("/data/class_names", "names " + std::to_string(c.data.class_names.size()) +
                                               " classes, the model's last layer outputs " +
                                               std::to_string(model_output_size(c.model)));
  }

  // the optimizer's own options come from its registration (optim/optimizer.h); lr feeds the schedule
  const json opt = root.value("optimizer", json::object());
  c.optimizer = OptimizerRegistry::instance().resolve(opt, "/optimizer", {"lr"});
  c.schedule.base_lr = jc::number(opt, "lr", "/optimizer", OptimizerRegistry::instance().find(c.optimizer.at("type"))->default_learning_rate, jc::above(0));

  const json sched = section(root, "schedule",
                             {"type", "warmup_epochs", "step_epochs", "gamma", "min_lr", "pct_start", "div_factor", "final_div_factor"});
  c.schedule.type = jc::string(sched, "type", "/schedule", std::string("constant"), {"constant", "step", "cosine", "one_cycle"});
  c.schedule.warmup_epochs = jc::number(sched, "warmup_epochs", "/schedule", 0.0, jc::at_least(0));
  c.schedule.step_epochs = jc::integer(sched, "step_epochs", "/schedule", 10, {1, 1e6});
  c.schedule.gamma = jc::number(sched, "gamma", "/schedule", 0.1, {0, 1, true});
  c.schedule.min_lr = jc::number(sched, "min_lr", "/schedule", 0.0, jc::at_least(0));
  c.schedule.pct_start = jc::number(sched, "pct_start", "/schedule", 0.3, {0, 1, true, true});
  c.schedule.div_factor = jc::number(sched, "div_factor", "/schedule", 25.0, jc::above(0));
  c.schedule.final_div_factor = jc::number(sched, "final_div_factor", "/schedule", 1e4, jc::above(0));
  if (c.schedule.type == "one_cycle" && c.schedule.warmup_epochs > 0) {
    throw ConfigError("/schedule/warmup_epochs", "one_cycle warms up by itself (/schedule/pct_start); set warmup_epochs to 0");
  }

  const json train =
      section(root, "training", {"epochs", "batch_size", "eval_batch_size", "log_grad_every", "checkpoint_every",
                                 "check_replicas", "adapt_threads", "early_stopping", "ema", "test", "adversarial", "mixup"});
  // bounded so that step counts (epochs × batches) cannot overflow
  c.training.epochs = jc::integer(train, "epochs", "/training", c.training.epochs, {1, 1e6});
  c.training.batch_size = jc::integer(train, "batch_size", "/training", c.training.batch_size, {1, 1e7});
  c.training.eval_batch_size = jc::integer(train, "eval_batch_size", "/training", c.training.eval_batch_size, {1, 1e7});
  c.training.log_grad_every = jc::integer(train, "log_grad_every", "/training", 0, jc::at_least(0));
  c.training.checkpoint_every = jc::integer(train, "checkpoint_every", "/training", 0, jc::at_least(0));
  c.training.check_replicas = jc::boolean(train, "check_replicas", "/training", false);
  c.training.adapt_threads = jc::boolean(train, "adapt_threads", "/training", true);
  c.training.test = jc::boolean(train, "test", "/training", true);
  if (train.contains("ema") && !train["ema"].is_null()) {
    c.training.ema = jc::number(train, "ema", "/training", std::nullopt, {0, 1, true, true});
  }
  if (train.contains("early_stopping") && !train["early_stopping"].is_null()) {
    const std::string path = "/training/early_stopping";
    const json& es = train["early_stopping"];
    jc::expect_object(es, path);
    jc::reject_unknown_keys(es, path, {"metric", "patience", "min_delta", "restore_best"});
    EarlyStoppingOptions& e = c.training.early_stopping;
    e.enabled = true;
    e.metric = jc::string(es, "metric", path, e.metric, {"validation_loss", "validation_accuracy"});
    e.patience = jc::integer(es, "patience", path, e.patience, {1, 1e6});
    e.min_delta = jc::number(es, "min_delta", path, e.min_delta, jc::at_least(0));
    e.restore_best = jc::boolean(es, "restore_best", path, e.restore_best);
    if (c.data.validation == 0) throw ConfigError(path, "early stopping watches the validation split, and /data/validation is 0");
  }
  if (train.contains("adversarial") && !train["adversarial"].is_null()) {
    const std::string path = "/training/adversarial";
    const json& adv = train["adversarial"];
    jc::expect_object(adv, path);
    jc::reject_unknown_keys(adv, path, {"epsilon", "weight"});
    c.training.adversarial.epsilon = jc::number(adv, "epsilon", path, std::nullopt, jc::above(0));
    c.training.adversarial.weight = jc::number(adv, "weight", path, c.training.adversarial.weight, {0, 1, false, true});
  }
  if (train.contains("mixup") && !train["mixup"].is_null()) {
    const std::string path = "/training/mixup";
    const json& mixup = train["mixup"];
    jc::expect_object(mixup, path);
    jc::reject_unknown_keys(mixup, path, {"alpha"});
    c.training.mixup.alpha = jc::number(mixup, "alpha", path, std::nullopt, jc::above(0));
  }
  if (c.schedule.warmup_epochs > static_cast<double>(c.training.epochs)) {
    throw ConfigError("/schedule/warmup_epochs", "warm-up is longer than /training/epochs");
  }

  const json calibration = section(root, "calibration", {"method", "bins", "bootstrap"});
  c.calibration.method = jc::string(calibration, "method", "/calibration", c.calibration.method,
                                    {"temperature", "vector", "ensemble_temperature", "none"});
  c.calibration.bins = static_cast<int>(jc::integer(calibration, "bins", "/calibration", c.calibration.bins, {1, 1000}));
  c.calibration.bootstrap =
      static_cast<int>(jc::integer(calibration, "bootstrap", "/calibration", c.calibration.bootstrap, {0, 100000}));
  if (c.calibration.bootstrap > 0 && c.calibration.bootstrap < kMinimumResamples) {
    throw ConfigError("/calibration/bootstrap", "expected 0 (no intervals) or at least " + std::to_string(kMinimumResamples) +
                                                    " resamples, got " + std::to_string(c.calibration.bootstrap));
  }

  const json output = section(root, "output", {"dir"});
  c.output_dir = jc::string(output, "dir", "/output", c.output_dir);
  return c;
}

json Config::to_json() const {
  // class_names and digits appear only when set: unset, the data decides (data/idx_source.h)
  json data_json{{"format", data.format}, {"dir", data.dir}, {"validation", data.validation}, {"mean", data.mean},
                 {"std", data.std}};
  if (!data.class_names.empty()) data_json["class_names"] = data.class_names;
  if (data.digits) data_json["digits"] = *data.digits;
  json out = {{"name", name},
          {"seed", seed},
          {"threads", threads},
          {"backend", backend},
          {"precision", precision},
          {"data", data_json},
          {"model", model},
          {"optimizer", optimizer_json()},
          {"schedule",
           {{"type", schedule.type},
            {"warmup_epochs", schedule.warmup_epochs},
            {"step_epochs", schedule.step_epochs},
            {"gamma", schedule.gamma},
            {"min_lr", schedule.min_lr},
            {"pct_start", schedule.pct_start},
            {"div_factor", schedule.div_factor},
            {"final_div_factor", schedule.final_div_factor}}},
          {"training",
           {{"epochs", training.epochs},
            {"batch_size", training.batch_size},
            {"eval_batch_size", training.eval_batch_size},
            {"log_grad_every", training.log_grad_every},
            {"checkpoint_every", training.checkpoint_every},
            {"check_replicas", training.check_replicas},
            {"adapt_threads", training.adapt_threads},
            {"ema", training.ema > 0 ? json(training.ema) : json(nullptr)},
            {"test", training.test}}},
          {"calibration", {{"method", calibration.method}, {"bins", calibration.bins}, {"bootstrap", calibration.bootstrap}}},
          {"output", {{"dir", output_dir}}}};
  if (!plugins.empty()) out["plugins"] = plugins;
  if (training.adversarial.enabled()) {
    out["training"]["adversarial"] = {{"epsilon", training.adversarial.epsilon}, {"weight", training.adversarial.weight}};
  }
  if (training.mixup.enabled()) out["training"]["mixup"] = {{"alpha", training.mixup.alpha}};
  if (const EarlyStoppingOptions& e = training.early_stopping; e.enabled) {
    out["training"]["early_stopping"] = {
        {"metric", e.metric}, {"patience", e.patience}, {"min_delta", e.min_delta}, {"restore_best", e.restore_best}};
  }
  return out;
}

json Config::optimizer_json() const {
  json j{{"type", optimizer.at("type")}, {"lr", schedule.base_lr}};
  for (const auto& [key, value] : optimizer.items()) j[key] = value;
  return j;
}

void check_model_fits_data(const Config& config, const DataDescription& data) {
  const int64_t input = config.model.at("input").get<int64_t>();
  if (data.features() != input) {
    throw ConfigError("/model/input", "expected " + std::to_string(data.features()) + " (the features of the " +
                                          std::to_string(data.rows) + " × " + std::to_string(data.cols) +
                                          (data.channels > 1 ? " × " + std::to_string(data.channels) : "") +
                                          " images in " + config.data.dir + "), got " + std::to_string(input));
  }
  const int64_t outputs = model_output_size(config.model);
  if (data.classes() != outputs) {
    const size_t last = config.model.at("layers").size() - 1;
    throw ConfigError("/model/layers/" + std::to_string(last), "the last layer outputs " + std::to_string(outputs) +
                                                                   " classes, the data in " + config.data.dir + " has " +
                                                                   std::to_string(data.classes()) + " (from " +
                                                                   data.class_names_source + ")");
  }
}

namespace {
// The directories a config file names — /data/dir and /output/dir — are relative to the file's
// directory, wherever gradflow runs from; they are made absolute so that a run directory's
// config.json and a checkpoint keep naming the same place. Returns /data/dir as the file wrote
// it ("" when absent or absolute), for the message when it names nothing.
std::string resolve_file_paths(json& root, const std::filesystem::path& base) {
  namespace fs = std::filesystem;
  std::string data_as_written;
  for (const char* section : {"data", "output"}) {
    if (!root.is_object() || !root.contains(section) || !root[section].is_object()) continue;
    json& dir = root[section]["dir"];
    if (!dir.is_string() || dir.get<std::string>().empty()) {
      if (dir.is_null()) root[section].erase("dir");  // operator[] added it
      continue;
    }
    const fs::path written(dir.get<std::string>());
    if (written.is_absolute()) continue;
    if (std::string(section) == "data") data_as_written = written.string();
    dir = fs::absolute(base / written).lexically_normal().string();
  }
  return data_as_written;
}
}  // namespace

json load_config_json(const std::string& path, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  json root = load_json_file(path);
  const fs::path base = fs::path(path).parent_path();
  const std::string data_as_written = resolve_file_paths(root, base);
  const json resolved_data_dir = data_as_written.empty() ? json() : root["data"]["dir"];
  for (const auto& assignment : overrides) apply_override(root, assignment);
  // a config written for the working directory it ran from, before paths were the file's own
  if (!data_as_written.empty() && root.contains("data") && root["data"].value("dir", json()) == resolved_data_dir) {
    const std::string resolved = resolved_data_dir.get<std::string>();
    std::error_code error;
    if (!fs::exists(resolved, error) && fs::is_directory(data_as_written, error)) {
      throw InputError(path + ": /data/dir \"" + data_as_written + "\" is relative to the config's directory, where it names " +
                       resolved + ", which does not exist; the working directory has " + data_as_written + ": write \"" +
                       fs::absolute(data_as_written).lexically_normal().lexically_relative(
                           fs::absolute(base.empty() ? "." : base).lexically_normal()).string() +
                       "\" or an absolute path, or give --data");
    }
  }
  if (!root.is_object() || !root.contains("plugins") || !root["plugins"].is_array()) return root;
  for (json& p : root["plugins"]) {
    if (!p.is_string() || p.get<std::string>().empty()) continue;  // parse_config names it
    std::filesystem::path file(p.get<std::string>());
    if (file.is_relative()) file = base / file;
    p = std::filesystem::absolute(file).lexically_normal().string();
    load_plugin(p.get<std::string>());
  }
  return root;
}

json load_json_file(const std::string& path) {
  const std::string text = read_file(path, "a JSON file");
  try {
    return jc::parse(text, path);
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string message = e.what();
    const auto at = message.find("parse error");
    throw InputError(path + ": malformed JSON: " + (at == std::string::npos ? message : message.substr(at)));
  }
}

void apply_override(json& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw InputError("--set " + assignment + ": expected key.path=value");
  }
  const std::string key_path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value = jc::parse(text, "--set " + key_path, false);
  if (value.is_discarded()) value = text;

  json* node = &root;
  std::stringstream keys(key_path);
  std::string key, pointer;
  std::vector<std::string> parts;
  while (std::getline(keys, key, '.')) parts.push_back(key);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    pointer = jc::join(pointer, part);
    if (part.empty()) throw InputError("--set " + assignment + ": empty key in " + key_path);
    json* next = nullptr;
    if (node->is_array()) {
      size_t index = 0;
      try {
        size_t used = 0;
        index = std::stoul(part, &used);
        if (used != part.size()) throw std::invalid_argument(part);
      } catch (const std::exception&) {
        throw ConfigError(pointer, "expected an array index");
      }
      if (index >= node->size()) throw ConfigError(pointer, "index outside the array of " + std::to_string(node->size()));
      next = &(*node)[index];
    } else {
      if (node->is_null()) *node = json::object();
      if (!node->is_object()) throw ConfigError(pointer, "cannot set a key inside " + jc::show(*node));
      if (value.is_null() && i + 1 == parts.size()) {  // key=null removes the key: its default applies
        node->erase(part);
        return;
      }
      next = &(*node)[part];
    }
    node = next;
  }
  *node = value;
}

}  // namespace gradflow
