#include "gradflow/data/source.h"

#include <set>

#include "gradflow/errors.h"

namespace gradflow {

using nlohmann::json;

json DataDescription::to_json() const {
  return {{"format", format}, {"rows", rows},       {"cols", cols},
          {"channels", channels}, {"class_names", class_names}, {"digits", digits}};
}

DataDescription DataDescription::from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& why) { return InputError(where + ": " + why); };
  if (!j.is_object()) throw bad("expected an object");
  DataDescription d;
  auto field = [&](const char* key, auto& out) {
    using T = std::decay_t<decltype(out)>;
    if (!j.contains(key)) throw bad(std::string("missing ") + key);
    try {
      out = j.at(key).get<T>();
    } catch (const json::exception&) {
      throw bad(std::string("invalid ") + key + " " + j.at(key).dump());
    }
  };
  field("format", d.format);
  field("rows", d.rows);
  field("cols", d.cols);
  field("channels", d.channels);
  field("class_names", d.class_names);
  field("digits", d.digits);
  constexpr int64_t kLargest = int64_t(1) << 20;  // keeps rows * cols * channels far from overflow
  for (int64_t size : {d.rows, d.cols, d.channels}) {
    if (size < 1 || size > kLargest) throw bad("rows, cols and channels must lie in [1, 2^20]");
  }
  if (d.class_names.size() < 2) throw bad("expected at least 2 class names");
  return d;
}

std::vector<std::string> index_class_names(int64_t classes) {
  std::vector<std::string> names;
  for (int64_t k = 0; k < classes; ++k) names.push_back(std::to_string(k));
  return names;
}

DataSourceRegistry& DataSourceRegistry::instance() {
  static DataSourceRegistry registry;
  return registry;
}

bool DataSourceRegistry::add(DataSourceInfo info, const std::string& file) {
  const std::string format = info.format;
  return sources_.add(format, std::move(info), file);
}

const DataSourceInfo* DataSourceRegistry::find(const std::string& format) const { return sources_.find(format); }

std::vector<std::string> DataSourceRegistry::formats() const { return sources_.names(); }

std::unique_ptr<DataSource> DataSourceRegistry::create(const DataOptions& options) const {
  check();
  const DataSourceInfo* info = find(options.format);
  if (info == nullptr) {
    std::string known;
    for (const auto& format : formats()) known += (known.empty() ? "\"" : ", \"") + format + "\"";
    throw ConfigError("/data/format", "unknown data format \"" + options.format + "\"; expected one of " + known);
  }
  return info->make(options);
}

DataSplits load_data(const DataOptions& options, const std::vector<Split>& which) {
  return DataSourceRegistry::instance().create(options)->load(which);
}

Dataset& DataSplits::split(Split which) {
  switch (which) {
    case Split::Train: return train;
    case Split::Validation: return validation;
    case Split::Test: break;
  }
  return test;
}

Dataset load_split(const DataOptions& options, Split split) { return std::move(load_data(options, {split}).split(split)); }

}  // namespace gradflow
