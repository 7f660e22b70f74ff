#pragma once
// A dataset directory holds the four standard MNIST files, each raw or ".gz":
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// The last `validation` samples of the training file form the validation split.
#include <string>
#include <utility>

#include "gradflow/tensor.h"

namespace gradflow {

struct Dataset {
  Matrix images;  // (N, features): pixels / 255, then (x - mean) / std
  Labels labels;  // (N)
  int64_t size() const { return labels.size(); }
  int64_t features() const { return images.cols(); }
};

enum class Split { Train, Validation, Test };
Split parse_split(const std::string& name);  // "train" | "validation" | "test"
std::string split_name(Split split);

struct DataOptions {
  std::string dir = "datasets/mnist";
  int64_t validation = 5000;
  double mean = 0.0;  // pixels are scaled to [0, 1], then normalised as (x - mean) / std
  double std = 1.0;
  int64_t classes = 10;  // labels must lie in [0, classes)
};

// Pairs an image file with its label file: counts must agree, labels lie in [0, classes).
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const DataOptions& options);

// Loads the training file once and splits it: {train, validation}.
std::pair<Dataset, Dataset> load_train_validation(const DataOptions& options);
// All three splits, the training and the test files read concurrently.
struct MnistSplits {
  Dataset train, validation, test;
};
MnistSplits load_mnist(const DataOptions& options);

// Loads one split of the dataset directory.
Dataset load_split(const DataOptions& options, Split split);

// The path of `stem` in `dir`, raw or ".gz"; InputError when neither exists.
std::string find_data_file(const std::string& dir, const std::string& stem);

}  // namespace gradflow
