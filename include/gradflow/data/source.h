#pragma once
// Data sources are registered by name from their own source file, like layers:
//
//   GRADFLOW_REGISTER_DATA_SOURCE(IdxSource, "idx", "MNIST-style IDX files: train-*/t10k-* images and labels");
//
// A config's data.format picks one ("idx" by default). A source reads its splits and says what
// they hold — the image shape, the class names, whether the images are centred digits — so no
// size is written into the code: the model's input and output are checked against the data.
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/data/dataset.h"
#include "gradflow/registry.h"

namespace gradflow {

// What a data set holds. It travels in a checkpoint's metadata (gradflow.data), so predict,
// eval and the report can name the classes and read a picture into the right shape.
struct DataDescription {
  std::string format = "idx";
  int64_t rows = 0, cols = 0, channels = 1;  // one image; features = rows * cols * channels
  std::vector<std::string> class_names;      // one per class; the indices "0", "1", ... when unnamed
  // Handwritten digits, centred MNIST-style (20 × 20 ink box, centre of mass in the middle):
  // predict centres a picture the same way. Other images are scaled whole to rows × cols.
  bool digits = false;
  // Where the names came from, for error messages ("datasets/x/classes.txt"); not stored.
  std::string class_names_source;

  int64_t classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t features() const { return rows * cols * channels; }
  nlohmann::json to_json() const;
  // Parses to_json()'s form; InputError prefixed with `where` when a field is missing or wrong.
  static DataDescription from_json(const nlohmann::json& json, const std::string& where);
};

// The class indices as names: "0", "1", ..., "classes - 1".
std::vector<std::string> index_class_names(int64_t classes);

// Splits not asked for stay empty.
struct DataSplits {
  Dataset train, validation, test;
  DataDescription description;
  Dataset& split(Split which);
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  // Reads the splits in `which` (train and validation come from one file set, test from another).
  virtual DataSplits load(const std::vector<Split>& which) const = 0;
};

struct DataSourceInfo {
  std::string format;
  std::string help;
  std::function<std::unique_ptr<DataSource>(const DataOptions&)> make;
};

class DataSourceRegistry {
 public:
  static DataSourceRegistry& instance();

  // Returns true for a new format; a second registration of a format is reported by check() (registry.h).
  bool add(DataSourceInfo info, const std::string& file = "");
  void check() const { sources_.check(); }
  const DataSourceInfo* find(const std::string& format) const;
  std::vector<std::string> formats() const;  // sorted

  // The source for options.format; ConfigError at /data/format naming the known formats.
  std::unique_ptr<DataSource> create(const DataOptions& options) const;

 private:
  Registry<DataSourceInfo> sources_{"data format"};
};

// The splits in `which` (all three by default) from options.format's source.
DataSplits load_data(const DataOptions& options,
                     const std::vector<Split>& which = {Split::Train, Split::Validation, Split::Test});
// One split (eval, step and calibrate read only what they need).
Dataset load_split(const DataOptions& options, Split split);

}  // namespace gradflow

#define GRADFLOW_REGISTER_DATA_SOURCE(Class, format_name, help)                                    \
  [[maybe_unused]] static const bool gradflow_registered_data_source_##Class =                      \
      ::gradflow::DataSourceRegistry::instance().add(::gradflow::DataSourceInfo{                    \
          format_name, help, [](const ::gradflow::DataOptions& options) -> std::unique_ptr<::gradflow::DataSource> { \
            return std::make_unique<Class>(options);                                                 \
          }}, __FILE__)
