#include "gradflow/data/dataset.h"

#include <filesystem>

#include "gradflow/data/idx.h"
#include "gradflow/errors.h"

namespace gradflow {

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "validation") return Split::Validation;
  if (name == "test") return Split::Test;
  throw InputError("unknown split \"" + name + "\" (expected train, validation or test)");
}

std::string split_name(Split split) {
  switch (split) {
    case Split::Train: return "train";
    case Split::Validation: return "validation";
    case Split::Test: return "test";
  }
  return "?";
}

std::string find_data_file(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  const fs::path raw = fs::path(dir) / stem;
  if (fs::is_regular_file(raw)) return raw.string();
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  if (fs::is_regular_file(gz)) return gz.string();
  throw InputError("missing data file " + raw.string() + " (or .gz); scripts/fetch-mnist.sh " + dir +
                   " downloads MNIST");
}

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const DataOptions& options) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.dims.size() < 2) throw InputError(images_path + ": expected images with at least 2 dimensions");
  if (labels.dims.size() != 1) throw InputError(labels_path + ": expected labels with 1 dimension");
  const int64_t n = images.dims[0];
  if (labels.dims[0] != n) {
    throw InputError(labels_path + ": holds " + std::to_string(labels.dims[0]) + " labels but " + images_path +
                     " holds " + std::to_string(n) + " images");
  }
  if (n == 0) throw InputError(images_path + ": holds no images");
  const int64_t features = static_cast<int64_t>(images.data.size()) / n;

  Dataset data;
  data.labels.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const int label = labels.data[static_cast<size_t>(i)];
    if (label >= options.classes) {
      throw InputError(labels_path + ": label " + std::to_string(label) + " at index " + std::to_string(i) +
                       " is outside [0, " + std::to_string(options.classes) + ")");
    }
    data.labels[i] = label;
  }
  // x = (pixel / 255 - mean) / std
  const float scale = static_cast<float>(1.0 / (255.0 * options.std));
  const float shift = static_cast<float>(options.mean / options.std);
  data.images.resize(n, features);
  float* out = data.images.data();
  for (size_t i = 0; i < images.data.size(); ++i) out[i] = static_cast<float>(images.data[i]) * scale - shift;
  return data;
}

std::pair<Dataset, Dataset> load_train_validation(const DataOptions& options) {
  const std::string images = find_data_file(options.dir, "train-images-idx3-ubyte");
  Dataset all = load_idx_pair(images, find_data_file(options.dir, "train-labels-idx1-ubyte"), options);
  if (options.validation < 0 || options.validation >= all.size()) {
    throw InputError(options.dir + ": validation size " + std::to_string(options.validation) +
                     " must be below the " + std::to_string(all.size()) + " training samples");
  }
  const int64_t n_train = all.size() - options.validation;
  Dataset validation;
  validation.images = all.images.bottomRows(options.validation);
  validation.labels = all.labels.tail(options.validation);
  all.images.conservativeResize(n_train, Eigen::NoChange);
  all.labels.conservativeResize(n_train);
  return {std::move(all), std::move(validation)};
}

Dataset load_split(const DataOptions& options, Split split) {
  if (split == Split::Test) {
    const std::string images = find_data_file(options.dir, "t10k-images-idx3-ubyte");
    return load_idx_pair(images, find_data_file(options.dir, "t10k-labels-idx1-ubyte"), options);
  }
  auto [train, validation] = load_train_validation(options);
  return split == Split::Train ? std::move(train) : std::move(validation);
}

}  // namespace gradflow
