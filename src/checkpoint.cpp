#include "gradflow/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

#include "gradflow/errors.h"
#include "gradflow/json_check.h"
#include "gradflow/layer_registry.h"
#include "gradflow/files.h"

namespace gradflow {

using nlohmann::json;

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, tensor] : file.tensors) {
    const uint64_t bytes = tensor.values.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned

  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));  // little-endian
  out += text;
  for (const auto& item : file.tensors) {
    out.append(reinterpret_cast<const char*>(item.second.values.data()), item.second.values.size() * sizeof(float));
  }
  write_file_atomic(path, out);
}

SafetensorsFile read_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path, "the checkpoint"), path);
}

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path) {
  auto bad = [&](const std::string& why) { return InputError(path + ": invalid safetensors checkpoint: " + why); };
  if (bytes.size() < 8) throw bad("file of " + std::to_string(bytes.size()) + " bytes is too short for a header");
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= uint64_t(static_cast<uint8_t>(bytes[static_cast<size_t>(i)])) << (8 * i);
  if (length == 0 || length > bytes.size() - 8) {
    throw bad("header length " + std::to_string(length) + " does not fit in the file of " + std::to_string(bytes.size()) +
              " bytes");
  }
  // a name given twice would silently keep one of its tensors: refused, as too deep a header is
  std::set<std::string> names;
  const json header = json::parse(
      std::string(bytes, 8, static_cast<size_t>(length)),
      [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth > json_check::kMaxDepth) json_check::throw_too_deep(path + ": header");
        if (event == json::parse_event_t::key && depth == 1 && !names.insert(parsed.get<std::string>()).second) {
          throw bad("the header names " + parsed.get<std::string>() + " twice");
        }
        return true;
      },
      false);
  if (header.is_discarded() || !header.is_object()) throw bad("header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - length;
  const char* data = bytes.data() + 8 + length;

  SafetensorsFile file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // every tensor's bytes
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw bad("__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw bad("metadata " + key + " is not a string");
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
      throw bad("tensor " + name + " lacks dtype, shape or data_offsets");
    }
    if (entry["dtype"] != "F32") throw bad("tensor " + name + " has dtype " + entry["dtype"].dump() + ", expected F32");
    StoredTensor tensor;
    uint64_t count = 1;
    if (!entry["shape"].is_array()) throw bad("tensor " + name + " has a shape that is not an array");
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > data_size) throw bad("tensor " + name + " has an invalid shape");
      tensor.shape.push_back(d.get<int64_t>());
      count *= d.get<uint64_t>();
      if (count > data_size) throw bad("tensor " + name + " is larger than the file");
    }
    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      throw bad("tensor " + name + " has invalid data_offsets");
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      throw bad("tensor " + name + " data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                "] fall outside the " + std::to_string(data_size) + " data bytes");
    }
    if (end - begin != count * sizeof(float)) throw bad("tensor " + name + " data_offsets disagree with its shape");
    ranges.emplace_back(begin, end);
    tensor.values.resize(count);
    if (count > 0) std::memcpy(tensor.values.data(), data + begin, count * sizeof(float));
    file.tensors.emplace(name, std::move(tensor));
  }
  // the tensors tile the data exactly, as the format requires: no overlap, no hole, nothing after
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != covered) throw bad("tensor data overlaps or leaves a gap at byte " + std::to_string(covered));
    covered = end;
  }
  if (covered != data_size) {
    throw bad(std::to_string(data_size - covered) + " bytes follow the last tensor's data");
  }
  return file;
}

void describe_model(const Sequential<float>& model, std::map<std::string, std::string>& metadata) {
  metadata["gradflow.format_version"] = kCheckpointFormatVersion;
  const json spec = model.describe();
  metadata["gradflow.model"] = spec.dump();
  json plugins = json::object();  // layer type -> the plugin file that registered it
  for (const auto& layer : spec.at("layers")) {
    const std::string type = layer.at("type").get<std::string>();
    const LayerInfo* info = LayerRegistry::instance().find(type);
    if (info != nullptr && !info->plugin.empty()) plugins[type] = info->plugin;
  }
  if (!plugins.empty()) metadata[kPluginsKey] = plugins.dump();
}

void save_checkpoint(const std::string& path, Sequential<float>& model, const json& config,
                     const std::map<std::string, std::string>& extra) {
  SafetensorsFile file;
  auto views = model.parameters();
  auto buffers = model.buffers();
  views.insert(views.end(), buffers.begin(), buffers.end());
  for (const auto& v : views) file.tensors[v.name] = {v.shape, std::vector<float>(v.value, v.value + v.size())};
  file.metadata = extra;
  describe_model(model, file.metadata);
  if (!config.is_null()) file.metadata["gradflow.config"] = config.dump();
  write_safetensors(path, file);
}

namespace {

DataDescription stored_data_description(const std::map<std::string, std::string>& metadata,
                                        const Sequential<float>& model, const std::string& path) {
  const std::string where = path + ": " + kDataDescriptionKey + " metadata";
  auto it = metadata.find(kDataDescriptionKey);
  if (it == metadata.end()) {
    DataDescription d;
    const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(model.input_size()))));
    d.rows = side * side == model.input_size() ? side : 1;
    d.cols = model.input_size() / d.rows;
    d.class_names = index_class_names(model.classes());
    d.digits = d.class_names == index_class_names(10);
    return d;
  }
  const json stored = json_check::parse(it->second, where, false);
  if (stored.is_discarded()) throw InputError(where + " is not valid JSON");
  DataDescription d = DataDescription::from_json(stored, where);
  if (d.features() != model.input_size() || d.classes() != model.classes()) {
    throw InputError(where + " describes " + std::to_string(d.features()) + " features and " +
                     std::to_string(d.classes()) + " classes, the model takes " + std::to_string(model.input_size()) +
                     " and outputs " + std::to_string(model.classes()));
  }
  return d;
}

}  // namespace

LoadedCheckpoint load_checkpoint(const std::string& path) {
  return load_checkpoint(read_safetensors(path), path);
}

LoadedCheckpoint load_checkpoint(SafetensorsFile file, const std::string& path) {
  auto bad = [&](const std::string& why) { return InputError(path + ": " + why); };
  auto meta = file.metadata.find("gradflow.model");
  if (meta == file.metadata.end()) throw bad("not a gradflow checkpoint (no gradflow.model metadata)");
  const json spec = json_check::parse(meta->second, path + ": gradflow.model metadata", false);
  if (spec.is_discarded()) throw bad("gradflow.model metadata is not valid JSON");
  // a layer from a plugin that is not loaded: name the plugin the model needs
  if (auto p = file.metadata.find(kPluginsKey); p != file.metadata.end() && spec.is_object() &&
                                                spec.contains("layers") && spec["layers"].is_array()) {
    const json plugins = json_check::parse(p->second, path + ": " + kPluginsKey + " metadata", false);
    for (const auto& layer : spec["layers"]) {
      if (!layer.is_object() || !layer.contains("type") || !layer["type"].is_string()) continue;
      const std::string type = layer["type"].get<std::string>();
      if (LayerRegistry::instance().find(type) != nullptr || !plugins.is_object() || !plugins.contains(type)) continue;
      const std::string plugin = plugins[type].is_string() ? plugins[type].get<std::string>() : "?";
      throw bad("the model's layer type \"" + type + "\" comes from the plugin " + plugin + ", which is not loaded: give --plugin " +
                plugin);
    }
  }
  json resolved;
  try {
    resolved = resolve_model_spec(spec, "/model");
  } catch (const InputError& e) {
    throw bad(std::string("stored model description: ") + e.what());
  }
  json config;
  if (auto c = file.metadata.find("gradflow.config"); c != file.metadata.end()) {
    config = json_check::parse(c->second, path + ": gradflow.config metadata", false);
    if (config.is_discarded()) throw bad("gradflow.config metadata is not valid JSON");
  }

  Sequential<float> model(resolved);
  auto views = model.parameters();
  auto buffers = model.buffers();
  views.insert(views.end(), buffers.begin(), buffers.end());
  for (const auto& v : views) {
    auto it = file.tensors.find(v.name);
    if (it == file.tensors.end()) throw bad("tensor " + v.name + " is missing");
    if (it->second.shape != v.shape) {
      throw bad("tensor " + v.name + " has shape " + json(it->second.shape).dump() + ", the model expects " +
                json(v.shape).dump());
    }
    const auto& values = it->second.values;
    if (const auto bad_value = std::find_if(values.begin(), values.end(), [](float x) { return !std::isfinite(x); });
        bad_value != values.end()) {
      throw bad("tensor " + v.name + " holds a non-finite value (" + std::to_string(*bad_value) + " at element " +
                std::to_string(bad_value - values.begin()) + ")");
    }
    std::copy(values.begin(), values.end(), v.value);
  }
  DataDescription data = stored_data_description(file.metadata, model, path);
  return {std::move(model), std::move(config), std::move(file.metadata), std::move(data)};
}

}  // namespace gradflow
