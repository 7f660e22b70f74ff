#include "gradflow/train_state.h"

#include <algorithm>
#include <sstream>

#include "gradflow/errors.h"
#include "gradflow/json_check.h"

namespace gradflow {

namespace {
constexpr const char* kPosition = "gradflow.train.position";
constexpr const char* kOptimizer = "gradflow.train.optimizer";
constexpr const char* kAverage = "gradflow.train.ema";
constexpr const char* kAveragePrefix = "ema.";
std::string state_key(const std::string& state, const std::string& parameter) {
  return "optimizer." + state + "." + parameter;
}
}  // namespace

void check_optimizer_type(const TrainState& state, const std::string& type) {
  // checkpoints written before optimizers were interchangeable hold SGD's momentum only
  const std::string written = state.optimizer_type.empty() ? "sgd" : state.optimizer_type;
  if (written != type) {
    throw InputError(state.path + ": written by the " + written + " optimizer; it cannot resume with " + type);
  }
}

void restore_optimizer(const TrainState& state, Optimizer& optimizer) {
  const std::string& path = state.path;
  check_optimizer_type(state, optimizer.type());
  const auto& parameters = optimizer.parameters();
  size_t used = 0;
  for (OptimizerState& s : optimizer.state()) {
    for (size_t k = 0; k < parameters.size(); ++k) {
      const std::string key = state_key(s.name, parameters[k].name);
      auto it = state.optimizer_tensors.find(key);
      if (it == state.optimizer_tensors.end()) {
        throw InputError(path + ": holds no " + key + " (the optimizer's options differ from the run that wrote it?)");
      }
      if (it->second.shape != parameters[k].shape) {
        throw InputError(path + ": " + key + " has shape " + nlohmann::json(it->second.shape).dump() + ", its parameter " +
                         nlohmann::json(parameters[k].shape).dump());
      }
      std::copy(it->second.values.begin(), it->second.values.end(), s.of(k));
      ++used;
    }
  }
  if (used != state.optimizer_tensors.size()) {
    throw InputError(path + ": holds optimizer state that " + optimizer.type() +
                     " with these options does not use (the options differ from the run that wrote it?)");
  }
  try {
    optimizer.set_scalars(state.optimizer_scalars);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

bool restore_average(const TrainState& state, WeightAverage& average) {
  if (state.average_tensors.empty()) return false;
  for (const TensorView<float>& p : average.model().parameters()) {
    const std::string key = kAveragePrefix + p.name;
    auto it = state.average_tensors.find(key);
    if (it == state.average_tensors.end()) throw InputError(state.path + ": holds no " + key);
    if (it->second.shape != p.shape) {
      throw InputError(state.path + ": " + key + " has shape " + nlohmann::json(it->second.shape).dump() +
                       ", its parameter " + nlohmann::json(p.shape).dump());
    }
    std::copy(it->second.values.begin(), it->second.values.end(), p.value);
  }
  average.set_updates(state.average_updates);
  average.copy_buffers();
  return true;
}

std::string rng_state(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

void set_rng_state(std::mt19937_64& rng, const std::string& state) {
  std::istringstream in(state);
  in >> rng;
  if (!in) throw InputError("invalid random generator state");
}

void save_train_state(const std::string& path, Sequential<float>& model, const Optimizer& optimizer, const TrainPosition& p,
                      const nlohmann::json& config, WeightAverage* average) {
  SafetensorsFile file;
  auto views = model.parameters();
  auto buffers = model.buffers();
  for (const auto& v : views) file.tensors[v.name] = {v.shape, std::vector<float>(v.value, v.value + v.size())};
  for (const auto& v : buffers) file.tensors[v.name] = {v.shape, std::vector<float>(v.value, v.value + v.size())};
  const auto& parameters = optimizer.parameters();  // the state's layout, as restore_optimizer reads it
  for (const OptimizerState& state : optimizer.state()) {
    for (size_t k = 0; k < parameters.size(); ++k) {
      const TensorView<float>& parameter = parameters[k];
      file.tensors[state_key(state.name, parameter.name)] = {
          parameter.shape, std::vector<float>(state.of(k), state.of(k) + parameter.size())};
    }
  }
  file.metadata[kOptimizer] = nlohmann::json{{"type", optimizer.type()}, {"scalars", optimizer.scalars()}}.dump();
  if (average != nullptr) {
    for (const auto& v : average->model().parameters()) {
      file.tensors[kAveragePrefix + v.name] = {v.shape, std::vector<float>(v.value, v.value + v.size())};
    }
    file.metadata[kAverage] = nlohmann::json{{"decay", average->decay()}, {"updates", average->updates()}}.dump();
  }
  nlohmann::json layer_rng = nlohmann::json::array();
  for (size_t i = 0; i < model.size(); ++i) layer_rng.push_back(model.layer(i).random_state());
  describe_model(model, file.metadata);
  file.metadata["gradflow.config"] = config.dump();
  nlohmann::json position{{"epoch", p.epoch},
                          {"batch", p.batch},
                          {"step", p.step},
                          {"epoch_rng", p.epoch_rng},
                          {"loss_sum", p.loss_sum},
                          {"correct", p.correct},
                          {"seen", p.seen},
                          {"train_seconds", p.train_seconds},
                          {"epoch_seconds", p.epoch_seconds},
                          {"wall_seconds", p.wall_seconds},
                          {"sessions", p.sessions},
                          {"best_epoch", p.best_epoch},
                          {"best_value", p.best_value},
                          {"layer_rng", layer_rng}};
  if (!p.mixup_rng.empty()) position["mixup_rng"] = p.mixup_rng;
  file.metadata[kPosition] = position.dump();
  write_safetensors(path, file);
}

TrainState load_train_state(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  auto it = file.metadata.find(kPosition);
  if (it == file.metadata.end()) {
    throw InputError(path + ": not a resumable checkpoint (no " + std::string(kPosition) +
                     "); training.checkpoint_every writes last.safetensors");
  }
  const nlohmann::json p = json_check::parse(it->second, path + ": " + kPosition, false);
  TrainState state{load_checkpoint(file, path), path, {}, {}, nlohmann::json::object(), {}, {}, {}, 0};
  try {
    state.position.epoch = p.at("epoch");
    state.position.batch = p.at("batch");
    state.position.step = p.at("step");
    state.position.epoch_rng = p.at("epoch_rng");
    state.position.loss_sum = p.at("loss_sum");
    state.position.correct = p.at("correct");
    state.position.seen = p.at("seen");
    state.position.train_seconds = p.at("train_seconds");
    // checkpoints written before these were recorded: the training time is the best known
    state.position.epoch_seconds = p.value("epoch_seconds", 0.0);
    state.position.wall_seconds = p.value("wall_seconds", state.position.train_seconds);
    state.position.sessions = p.value("sessions", int64_t(1));
    state.position.best_epoch = p.value("best_epoch", int64_t(0));
    state.position.best_value = p.value("best_value", 0.0);
    state.position.mixup_rng = p.value("mixup_rng", std::string());
    state.layer_rng = p.at("layer_rng").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(path + ": the training position in its metadata is invalid");
  }
  if (state.layer_rng.size() != state.checkpoint.model.size() || state.position.epoch < 1 || state.position.batch < 0) {
    throw InputError(path + ": the training position does not fit the model");
  }
  if (auto o = file.metadata.find(kOptimizer); o != file.metadata.end()) {
    const nlohmann::json optimizer = json_check::parse(o->second, path + ": " + kOptimizer, false);
    if (!optimizer.is_object() || !optimizer.contains("type") || !optimizer["type"].is_string() ||
        !optimizer.value("scalars", nlohmann::json()).is_object()) {
      throw InputError(path + ": the optimizer state in its metadata is invalid");
    }
    state.optimizer_type = optimizer["type"].get<std::string>();
    state.optimizer_scalars = optimizer["scalars"];
  }
  if (auto a = file.metadata.find(kAverage); a != file.metadata.end()) {
    const nlohmann::json average = json_check::parse(a->second, path + ": " + kAverage, false);
    if (!average.is_object() || !average.value("updates", nlohmann::json()).is_number_integer() ||
        average["updates"].get<int64_t>() < 0) {
      throw InputError(path + ": the weight average in its metadata is invalid");
    }
    state.average_updates = average["updates"].get<int64_t>();
  }
  for (auto& [name, tensor] : file.tensors) {
    if (name.rfind("optimizer.", 0) == 0) state.optimizer_tensors[name] = std::move(tensor);
    if (name.rfind(kAveragePrefix, 0) == 0) state.average_tensors[name] = std::move(tensor);
  }
  return state;
}

}  // namespace gradflow
