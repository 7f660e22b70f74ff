#include "gradflow/data/idx_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>

#include "gradflow/data/idx.h"
#include "gradflow/errors.h"

namespace gradflow {

GRADFLOW_REGISTER_DATA_SOURCE(IdxSource, "idx",
                              "a directory of IDX files, raw or .gz (MNIST, Fashion-MNIST): "
                              "train-images/labels and t10k-images/labels, optional classes.txt");

std::vector<std::string> idx_file_stems() { return {kIdxTrainImages, kIdxTrainLabels, kIdxTestImages, kIdxTestLabels}; }

std::string find_data_file(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  const fs::path raw = fs::path(dir) / stem;
  if (fs::is_regular_file(raw)) return raw.string();
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  if (fs::is_regular_file(gz)) return gz.string();
  throw InputError("missing data file " + raw.string() + " (or .gz); scripts/fetch-mnist.sh " + dir +
                   " downloads MNIST, scripts/fetch-fashion-mnist.sh " + dir + " installs Fashion-MNIST");
}

std::vector<std::string> read_class_names(const std::string& path) {
  if (!std::filesystem::exists(path)) return {};
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    const auto last = line.find_last_not_of(" \t\r");
    lines.push_back(first == std::string::npos ? "" : line.substr(first, last - first + 1));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) throw InputError(path + ": no class names (expected one per line)");
  std::set<std::string> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1) + ": ";
    if (lines[i].empty()) throw InputError(where + "blank class name (expected one name per line)");
    if (!seen.insert(lines[i]).second) throw InputError(where + "class name \"" + lines[i] + "\" appears twice");
  }
  return lines;
}

namespace {

// An image file and its label file, read and checked: counts agree, labels lie in [0, limit).
struct IdxPair {
  IdxArray images, labels;
  std::string images_path, labels_path;
  int64_t size() const { return images.dims[0]; }
  int64_t features() const { return size() > 0 ? static_cast<int64_t>(images.data.size()) / size() : 0; }
  int64_t max_label() const { return labels.data.empty() ? -1 : *std::max_element(labels.data.begin(), labels.data.end()); }
};

IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t limit,
                      const std::string& limit_reason) {
  IdxPair pair{read_idx(images_path), read_idx(labels_path), images_path, labels_path};
  const IdxArray& images = pair.images;
  const IdxArray& labels = pair.labels;
  if (images.dims.size() < 2) throw InputError(images_path + ": expected images with at least 2 dimensions");
  if (labels.dims.size() != 1) throw InputError(labels_path + ": expected labels with 1 dimension");
  const int64_t n = images.dims[0];
  if (labels.dims[0] != n) {
    throw InputError(labels_path + ": holds " + std::to_string(labels.dims[0]) + " labels but " + images_path +
                     " holds " + std::to_string(n) + " images");
  }
  if (n == 0) throw InputError(images_path + ": holds no images");
  if (limit > 0) {
    for (size_t i = 0; i < labels.data.size(); ++i) {
      if (labels.data[i] >= limit) {
        throw InputError(labels_path + ": label " + std::to_string(labels.data[i]) + " at index " + std::to_string(i) +
                         " is outside [0, " + std::to_string(limit) + ")" + limit_reason);
      }
    }
  }
  return pair;
}

// Samples [begin, end) of a pair as floats: x = (pixel / 255 - mean) / std.
Dataset to_dataset(const IdxPair& pair, int64_t begin, int64_t end, const DataOptions& options) {
  const int64_t n = end - begin, features = pair.features();
  Dataset data;
  data.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) data.labels[i] = pair.labels.data[static_cast<size_t>(begin + i)];
  const float scale = static_cast<float>(1.0 / (255.0 * options.std));
  const float shift = static_cast<float>(options.mean / options.std);
  data.images.resize(n, features);
  const uint8_t* in = pair.images.data.data() + begin * features;
  float* out = data.images.data();
  const int64_t count = n * features;
#pragma omp parallel for schedule(static) if (count >= (int64_t(1) << 20))
  for (int64_t i = 0; i < count; ++i) out[i] = static_cast<float>(in[i]) * scale - shift;
  return data;
}

// The class names the options or classes.txt give (empty: unnamed), and the label limit they set.
struct ClassNaming {
  std::vector<std::string> names;
  std::string source;  // the file or JSON path naming them
  int64_t limit = 0;  // 0: none
  std::string reason;
};

ClassNaming class_naming(const DataOptions& options) {
  ClassNaming n;
  const std::string file = (std::filesystem::path(options.dir) / kClassNamesFile).string();
  if (!options.class_names.empty()) {
    n.names = options.class_names;
    n.source = "/data/class_names";
    n.reason = " (/data/class_names names " + std::to_string(n.names.size()) + " classes)";
  } else {
    n.names = read_class_names(file);
    n.source = file;
    n.reason = " (" + file + " names " + std::to_string(n.names.size()) + " classes)";
  }
  if (!n.names.empty()) {
    if (options.classes > 0 && options.classes != static_cast<int64_t>(n.names.size())) {
      throw InputError((options.class_names.empty() ? file : std::string("/data/class_names")) + " names " +
                       std::to_string(n.names.size()) + " classes, the model outputs " + std::to_string(options.classes));
    }
    n.limit = static_cast<int64_t>(n.names.size());
  } else if (options.classes > 0) {
    n.limit = options.classes;
    n.reason = " (the model outputs " + std::to_string(options.classes) + " classes)";
  }
  return n;
}

IdxPair read_training_files(const DataOptions& options, const ClassNaming& naming) {
  const std::string images = find_data_file(options.dir, kIdxTrainImages);
  IdxPair pair = read_idx_pair(images, find_data_file(options.dir, kIdxTrainLabels), naming.limit, naming.reason);
  if (options.validation < 0 || options.validation >= pair.size()) {
    throw InputError(options.dir + ": validation size " + std::to_string(options.validation) +
                     " must be below the " + std::to_string(pair.size()) + " training samples");
  }
  return pair;
}

IdxPair read_test_files(const DataOptions& options, const ClassNaming& naming) {
  const std::string images = find_data_file(options.dir, kIdxTestImages);
  return read_idx_pair(images, find_data_file(options.dir, kIdxTestLabels), naming.limit, naming.reason);
}

// One image's shape: N × rows × cols [× channels]; a 2-dimensional file holds rows of 1 × cols.
void image_shape(const IdxPair& pair, DataDescription& d) {
  const auto& dims = pair.images.dims;
  if (dims.size() == 2) {
    d.rows = 1, d.cols = dims[1], d.channels = 1;
  } else {
    d.rows = dims[1], d.cols = dims[2], d.channels = dims.size() == 4 ? dims[3] : 1;
  }
}

std::string shape_text(const DataDescription& d) {
  return std::to_string(d.rows) + " × " + std::to_string(d.cols) + (d.channels > 1 ? " × " + std::to_string(d.channels) : "");
}

}  // namespace

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const DataOptions& options) {
  const IdxPair pair = read_idx_pair(images_path, labels_path, options.classes, "");
  return to_dataset(pair, 0, pair.size(), options);
}

std::pair<Dataset, Dataset> load_train_validation(const DataOptions& options) {
  DataSplits splits = IdxSource(options).load({Split::Train, Split::Validation});
  return {std::move(splits.train), std::move(splits.validation)};
}

DataSplits IdxSource::load(const std::vector<Split>& which) const {
  auto wants = [&](Split s) { return std::find(which.begin(), which.end(), s) != which.end(); };
  const bool training = wants(Split::Train) || wants(Split::Validation), test = wants(Split::Test);
  const ClassNaming naming = class_naming(options_);
  // The test files decompress on a second thread while this one reads the training files. If
  // the training files fail, the future's destructor still waits for that thread.
  std::future<IdxPair> test_files;
  if (test) test_files = std::async(std::launch::async, read_test_files, std::cref(options_), std::cref(naming));
  DataSplits splits;
  DataDescription& d = splits.description;
  d.format = "idx";
  int64_t max_label = -1;
  std::string max_label_path;
  if (training) {
    const IdxPair pair = read_training_files(options_, naming);
    const int64_t n_train = pair.size() - options_.validation;
    if (wants(Split::Train)) splits.train = to_dataset(pair, 0, n_train, options_);
    if (wants(Split::Validation)) splits.validation = to_dataset(pair, n_train, pair.size(), options_);
    image_shape(pair, d);
    max_label = pair.max_label();
    max_label_path = pair.labels_path;
  }
  if (test) {
    const IdxPair pair = test_files.get();
    DataDescription test_shape;
    image_shape(pair, test_shape);
    if (training && (test_shape.rows != d.rows || test_shape.cols != d.cols || test_shape.channels != d.channels)) {
      throw InputError(pair.images_path + ": images of " + shape_text(test_shape) + ", the training images are " +
                       shape_text(d));
    }
    splits.test = to_dataset(pair, 0, pair.size(), options_);
    d.rows = test_shape.rows, d.cols = test_shape.cols, d.channels = test_shape.channels;
    if (pair.max_label() > max_label) max_label = pair.max_label(), max_label_path = pair.labels_path;
  }
  if (!naming.names.empty()) {
    d.class_names = naming.names;
    d.class_names_source = naming.source;
  } else {
    d.class_names_source = options_.classes > 0 ? "the model's output"
                                                : "1 + the largest label, " + std::to_string(max_label) + ", in " +
                                                      max_label_path;
    d.class_names = index_class_names(options_.classes > 0 ? options_.classes : max_label + 1);
  }
  d.digits = options_.digits.value_or(d.class_names == index_class_names(10));
  return splits;
}

}  // namespace gradflow
