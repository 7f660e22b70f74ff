#include "model_source.h"

#include <spdlog/spdlog.h>

#include "gradflow/checkpoint.h"
#include "gradflow/errors.h"
#include "gradflow/kernels/backend.h"
#include "gradflow/kernels/bfloat16.h"
#include "gradflow/kernels/onednn.h"
#include "options.h"

namespace gradflow::cli {

namespace {

// A config's model.head, or an empty object.
nlohmann::json head_of(const nlohmann::json& config) {
  const auto model = config.find("model");
  if (model == config.end() || !model->is_object()) return nlohmann::json::object();
  const auto head = model->find("head");
  return head != model->end() && head->is_object() ? *head : nlohmann::json::object();
}

// A config's model without its head: what a checkpoint fixes.
nlohmann::json layers_of(const nlohmann::json& config) {
  const auto model = config.find("model");
  if (model == config.end()) return nullptr;
  nlohmann::json rest = *model;
  if (rest.is_object()) rest.erase("head");
  return rest;
}

// With a checkpoint, what a --set may change: the head, the optimizer of the step, where the data
// is and how the work runs. Any other key would either do nothing (training.*, schedule.*) or
// change what the model was trained on (data.mean, data.std, ...).
bool settable_with_checkpoint(const std::string& assignment) {
  const std::string key = assignment.substr(0, assignment.find('='));
  for (const char* prefix : {"model.head", "optimizer"}) {
    const std::string p(prefix);
    if (key == p || key.rfind(p + ".", 0) == 0) return true;
  }
  for (const char* exact : {"data.dir", "data.validation", "threads", "backend", "seed"}) {
    if (key == exact) return true;
  }
  return false;
}

}  // namespace

void add_model_source_options(CLI::App& command, ModelSource& source) {
  command.add_option("--checkpoint", source.checkpoint, "the model (a gradflow checkpoint)");
  command.add_option("--config", source.config, "or a fresh, seeded model from this config");
  command.add_option("--set", source.overrides,
                     "override a config value: key.path=value; repeatable (with --checkpoint: model.head.*, optimizer.*, data.dir, data.validation, threads, backend, seed)")
      ->take_all()
      ->allow_extra_args(false);
  add_data_option(command, source.data);
  add_threads_option(command, source.threads);
}

SourcedModel load_model(const ModelSource& source) {
  if (source.checkpoint.empty() == source.config.empty()) {
    throw InputError("give exactly one of --checkpoint FILE and --config FILE");
  }
  if (!source.checkpoint.empty()) {
    LoadedCheckpoint loaded = load_checkpoint(source.checkpoint);
    nlohmann::json raw = loaded.config.is_null() ? nlohmann::json{{"model", loaded.model.describe()}} : loaded.config;
    const nlohmann::json stored_head = head_of(raw);
    for (const auto& assignment : source.overrides) {
      if (!settable_with_checkpoint(assignment) && assignment.rfind("model", 0) != 0) {
        throw InputError("--set " + assignment + ": with --checkpoint only model.head.*, optimizer.*, data.dir, "
                         "data.validation, threads, backend and seed can be set; this key would change nothing or "
                         "what the model was trained on");
      }
      nlohmann::json changed = raw;
      apply_override(changed, assignment);
      if (layers_of(changed) != layers_of(raw)) {
        throw InputError("--set " + assignment + ": the model comes from the checkpoint; only model.head.temperature and "
                         "model.head.label_smoothing can change it");
      }
      raw = std::move(changed);
    }
    Config config = parse_config(raw);
    // the head's options a --set changed apply to the loaded model; the others stay as saved
    // (a calibrated temperature lives in the checkpoint, not in its config)
    const nlohmann::json set_head = head_of(raw);
    for (const char* key : {"temperature", "label_smoothing"}) {
      if (set_head.value(key, nlohmann::json()) == stored_head.value(key, nlohmann::json())) continue;
      const double value = config.model.at("head").value(key, 0.0);
      if (std::string(key) == "temperature") {
        loaded.model.head().set_temperature(value);
      } else {
        loaded.model.head().set_label_smoothing(value);
      }
    }
    config.model = loaded.model.describe();
    if (!source.data.empty()) config.data.dir = source.data;
    config.threads = threads_to_use(source.threads, config.threads);
    config.data.classes = loaded.model.classes();
    return {std::move(loaded.model), std::move(config)};
  }
  nlohmann::json raw = load_config_json(source.config, source.overrides);
  Config config = parse_config(raw);
  if (!source.data.empty()) config.data.dir = source.data;
  config.threads = threads_to_use(source.threads, config.threads);
  config.data.classes = model_output_size(config.model);
  Sequential<float> model(config.model);
  std::mt19937_64 rng(config.seed);
  model.initialize(rng);
  return {std::move(model), std::move(config)};
}

DataOptions data_of(const LoadedCheckpoint& checkpoint, const std::string& data_dir) {
  DataOptions data;
  if (!checkpoint.config.is_null()) data = parse_config(checkpoint.config).data;
  data.classes = checkpoint.model.classes();
  if (!data_dir.empty()) data.dir = data_dir;
  return data;
}

std::string use_products_of(const LoadedCheckpoint& checkpoint, const std::string& precision_option) {
  std::string trained = "fp32", backend = "auto";
  if (!checkpoint.config.is_null()) {
    const Config config = parse_config(checkpoint.config);
    trained = config.precision;
    backend = config.backend;
  }
  use_product_backend(backend);
  std::string name = precision_option.empty() ? trained : precision_option;
  if (precision_option.empty() && name == "bf16" && !bf16_products_built()) {
    spdlog::warn("the model was trained in bf16, and this build has no oneDNN: computing in fp32");
    name = "fp32";
  }
  use_precision(parse_precision(name));
  if (product_precision() == Precision::BF16) log_bf16_hardware();
  return trained;
}

int threads_of(const LoadedCheckpoint& checkpoint, int threads_option) {
  return threads_to_use(threads_option, checkpoint.config.is_null() ? 0 : parse_config(checkpoint.config).threads);
}

}  // namespace gradflow::cli
