#include "gradflow/data/dataset.h"

#include <filesystem>
#include <future>
#include <tuple>

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

namespace {

// An image file and its label file, read and checked: counts agree, labels lie in [0, classes).
struct IdxPair {
  IdxArray images, labels;
  int64_t size() const { return images.dims[0]; }
  int64_t features() const { return size() > 0 ? static_cast<int64_t>(images.data.size()) / size() : 0; }
};

IdxPair read_idx_pair(const std::string& images_path, const std::string& labels_path, const DataOptions& options) {
  IdxPair pair{read_idx(images_path), read_idx(labels_path)};
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
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= options.classes) {
      throw InputError(labels_path + ": label " + std::to_string(labels.data[i]) + " at index " + std::to_string(i) +
                       " is outside [0, " + std::to_string(options.classes) + ")");
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

IdxPair read_training_files(const DataOptions& options) {
  const std::string images = find_data_file(options.dir, "train-images-idx3-ubyte");
  IdxPair pair = read_idx_pair(images, find_data_file(options.dir, "train-labels-idx1-ubyte"), options);
  if (options.validation < 0 || options.validation >= pair.size()) {
    throw InputError(options.dir + ": validation size " + std::to_string(options.validation) +
                     " must be below the " + std::to_string(pair.size()) + " training samples");
  }
  return pair;
}

// The training files hold train then validation: the last options.validation samples.
Dataset training_split(const IdxPair& pair, Split split, const DataOptions& options) {
  const int64_t n_train = pair.size() - options.validation;
  return split == Split::Train ? to_dataset(pair, 0, n_train, options) : to_dataset(pair, n_train, pair.size(), options);
}

Dataset load_test(const DataOptions& options) {
  const std::string images = find_data_file(options.dir, "t10k-images-idx3-ubyte");
  return load_idx_pair(images, find_data_file(options.dir, "t10k-labels-idx1-ubyte"), options);
}

}  // namespace

Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const DataOptions& options) {
  const IdxPair pair = read_idx_pair(images_path, labels_path, options);
  return to_dataset(pair, 0, pair.size(), options);
}

std::pair<Dataset, Dataset> load_train_validation(const DataOptions& options) {
  const IdxPair pair = read_training_files(options);
  return {training_split(pair, Split::Train, options), training_split(pair, Split::Validation, options)};
}

MnistSplits load_mnist(const DataOptions& options) {
  // The test files decompress on a second thread while this one reads the training files. If
  // the training files fail, the future's destructor still waits for that thread.
  std::future<Dataset> test = std::async(std::launch::async, load_test, std::cref(options));
  MnistSplits splits;
  std::tie(splits.train, splits.validation) = load_train_validation(options);
  splits.test = test.get();
  return splits;
}

Dataset load_split(const DataOptions& options, Split split) {
  if (split == Split::Test) return load_test(options);
  return training_split(read_training_files(options), split, options);
}

}  // namespace gradflow
