#pragma once
// A data set in memory, and the options every data source shares (the "data" section of a
// config). Sources live behind data/source.h; the IDX files of MNIST and Fashion-MNIST are read
// by data/idx_source.h.
#include <optional>
#include <string>
#include <vector>

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
  std::string format = "idx";  // the registered data source (data/source.h)
  std::string dir = "datasets/mnist";
  int64_t validation = 5000;  // the last `validation` training samples form the validation split
  double mean = 0.0;  // pixels are scaled to [0, 1], then normalised as (x - mean) / std
  double std = 1.0;
  // Class names, in label order; empty: the source's own (idx: classes.txt), else the indices.
  std::vector<std::string> class_names;
  // Whether the images are MNIST-style centred digits; unset: the source decides.
  std::optional<bool> digits;
  // Labels must lie in [0, classes); 0: any count, taken from the data. A model's output
  // (a checkpoint's) sets it when the data is read for that model.
  int64_t classes = 0;
};

}  // namespace gradflow
