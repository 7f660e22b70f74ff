#pragma once
// The "idx" data source: a directory of four IDX files (the MNIST layout), each raw or ".gz":
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// Images are N × rows × cols (or N × rows × cols × channels) unsigned bytes; the last
// `validation` samples of the training files form the validation split.
//
// Class names, first found wins: the config's data.class_names; a classes.txt beside the files
// (one name per line, as many lines as classes); the indices "0", "1", ... The class count is
// the number of names, or without names 1 + the largest label read (the model's output when it
// is known). Digits (MNIST-style centring in predict): data.digits when set, else true exactly
// when the class names are the ten digits "0" to "9" — MNIST yes, Fashion-MNIST (classes.txt) no.
#include <string>
#include <utility>
#include <vector>

#include "gradflow/data/source.h"

namespace gradflow {

inline constexpr const char* kIdxTrainImages = "train-images-idx3-ubyte";
inline constexpr const char* kIdxTrainLabels = "train-labels-idx1-ubyte";
inline constexpr const char* kIdxTestImages = "t10k-images-idx3-ubyte";
inline constexpr const char* kIdxTestLabels = "t10k-labels-idx1-ubyte";
inline constexpr const char* kClassNamesFile = "classes.txt";

class IdxSource : public DataSource {
 public:
  explicit IdxSource(const DataOptions& options) : options_(options) {}
  DataSplits load(const std::vector<Split>& which) const override;

 private:
  DataOptions options_;
};

// The four file stems above, in that order.
std::vector<std::string> idx_file_stems();

// Pairs an image file with its label file: counts must agree, labels lie in [0, classes) when
// options.classes > 0.
Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path, const DataOptions& options);

// Loads the training files once and splits them: {train, validation}.
std::pair<Dataset, Dataset> load_train_validation(const DataOptions& options);

// The path of `stem` in `dir`, raw or ".gz"; InputError when neither exists.
std::string find_data_file(const std::string& dir, const std::string& stem);

// The names in `path`, one per line (surrounding spaces and blank lines at the end ignored);
// empty when the file does not exist. InputError naming the file (and line) when it is
// unreadable, empty, or holds a blank or repeated name.
std::vector<std::string> read_class_names(const std::string& path);

}  // namespace gradflow
