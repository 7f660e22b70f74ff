#pragma once
// Checkpoints are safetensors files: an 8-byte little-endian header length, a JSON header
// {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}},
// then the tensor bytes. Tensor names and shapes are the state_dict of the equivalent PyTorch
// nn.Sequential, so torch's model.load_state_dict(safetensors.torch.load_file(path)) works.
// Metadata (all strings): gradflow.format_version, gradflow.model (the model spec JSON),
// gradflow.config (the resolved config JSON), gradflow.data (what the model was trained on: the
// image shape, the class names, whether the images are digits; data/source.h).
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/data/source.h"
#include "gradflow/model.h"

namespace gradflow {

inline constexpr const char* kCheckpointFormatVersion = "1";
inline constexpr const char* kDataDescriptionKey = "gradflow.data";
// {"softplus": "/abs/libsoftplus.so"}: the plugin each plugin layer type of the model came from
inline constexpr const char* kPluginsKey = "gradflow.plugins";

struct StoredTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct SafetensorsFile {
  std::map<std::string, StoredTensor> tensors;
  std::map<std::string, std::string> metadata;
  // gradflow.data, checked against the model; a checkpoint without it (written before class names
  // were stored) gets square images when the input is a square, the indices as class names, and
  // digits when those are the ten digits.
  DataDescription data;
};

// Writes atomically (temporary file, flush, rename).
void write_safetensors(const std::string& path, const SafetensorsFile& file);
// Validates everything (header length, header JSON, dtypes, shapes, offsets); InputError naming the file.
SafetensorsFile read_safetensors(const std::string& path);
// The same from bytes in memory; `name` appears in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);

// The metadata that describes a model: format version, gradflow.model (its resolved spec) and
// gradflow.plugins when a layer comes from a plugin.
void describe_model(const Sequential<float>& model, std::map<std::string, std::string>& metadata);

// The model's parameters and buffers, its spec, `config` and `extra` metadata.
void save_checkpoint(const std::string& path, Sequential<float>& model, const nlohmann::json& config,
                     const std::map<std::string, std::string>& extra = {});

struct LoadedCheckpoint {
  Sequential<float> model;
  nlohmann::json config;  // the resolved config the model was trained with (may be empty)
  std::map<std::string, std::string> metadata;
  // gradflow.data, checked against the model; a checkpoint without it (written before class names
  // were stored) gets square images when the input is a square, the indices as class names, and
  // digits when those are the ten digits.
  DataDescription data;
};
// Rebuilds the model from the stored spec and loads every tensor; shapes must match.
LoadedCheckpoint load_checkpoint(const std::string& path);
// The same from a file already read; `path` appears in error messages.
LoadedCheckpoint load_checkpoint(SafetensorsFile file, const std::string& path);

}  // namespace gradflow
