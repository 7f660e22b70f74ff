#include "gradflow/train_state.h"

#include <sstream>

#include "gradflow/errors.h"

namespace gradflow {

namespace {
constexpr const char* kPosition = "gradflow.train.position";
const std::string kMomentum = "optimizer.momentum.";
}  // namespace

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

void save_train_state(const std::string& path, Sequential<float>& model, Sgd& optimizer, const TrainPosition& p,
                      const nlohmann::json& config) {
  SafetensorsFile file;
  auto views = model.parameters();
  auto buffers = model.buffers();
  for (const auto& v : views) file.tensors[v.name] = {v.shape, std::vector<float>(v.value, v.value + v.size())};
  for (const auto& v : buffers) file.tensors[v.name] = {v.shape, std::vector<float>(v.value, v.value + v.size())};
  const auto& momentum = optimizer.momentum_buffers();
  for (size_t k = 0; k < momentum.size(); ++k) file.tensors[kMomentum + views[k].name] = {views[k].shape, momentum[k]};
  nlohmann::json layer_rng = nlohmann::json::array();
  for (size_t i = 0; i < model.size(); ++i) layer_rng.push_back(model.layer(i).random_state());
  file.metadata["gradflow.format_version"] = kCheckpointFormatVersion;
  file.metadata["gradflow.model"] = model.describe().dump();
  file.metadata["gradflow.config"] = config.dump();
  file.metadata[kPosition] = nlohmann::json{{"epoch", p.epoch},
                                            {"batch", p.batch},
                                            {"step", p.step},
                                            {"epoch_rng", p.epoch_rng},
                                            {"loss_sum", p.loss_sum},
                                            {"correct", p.correct},
                                            {"seen", p.seen},
                                            {"train_seconds", p.train_seconds},
                                            {"layer_rng", layer_rng}}
                                 .dump();
  write_safetensors(path, file);
}

TrainState load_train_state(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  auto it = file.metadata.find(kPosition);
  if (it == file.metadata.end()) {
    throw InputError(path + ": not a resumable checkpoint (no " + std::string(kPosition) +
                     "); training.checkpoint_every writes last.safetensors");
  }
  const nlohmann::json p = nlohmann::json::parse(it->second, nullptr, false);
  TrainState state{load_checkpoint(file, path), {}, {}, {}};
  try {
    state.position.epoch = p.at("epoch");
    state.position.batch = p.at("batch");
    state.position.step = p.at("step");
    state.position.epoch_rng = p.at("epoch_rng");
    state.position.loss_sum = p.at("loss_sum");
    state.position.correct = p.at("correct");
    state.position.seen = p.at("seen");
    state.position.train_seconds = p.at("train_seconds");
    state.layer_rng = p.at("layer_rng").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(path + ": the training position in its metadata is invalid");
  }
  if (state.layer_rng.size() != state.checkpoint.model.size() || state.position.epoch < 1 || state.position.batch < 0) {
    throw InputError(path + ": the training position does not fit the model");
  }
  for (const auto& v : state.checkpoint.model.parameters()) {
    auto m = file.tensors.find(kMomentum + v.name);
    if (m == file.tensors.end()) continue;
    if (m->second.shape != v.shape) throw InputError(path + ": momentum buffer of " + v.name + " has the wrong shape");
    state.momentum.push_back(std::move(m->second.values));
  }
  return state;
}

}  // namespace gradflow
