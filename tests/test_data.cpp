// The IDX reader on crafted files, the dataset splits and the batcher.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "gradflow/data/batcher.h"
#include "gradflow/data/dataset.h"
#include "gradflow/data/idx.h"
#include "gradflow/data/idx_source.h"
#include "gradflow/errors.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;

namespace {
// Expects an InputError whose message contains `file` and `fragment`.
template <typename F>
void expect_input_error(F&& f, const std::string& file, const std::string& fragment) {
  try {
    f();
    FAIL() << "no error for " << file;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}
}  // namespace

TEST(Idx, ReadsGoodRawFile) {
  const std::string dir = temp_dir("idx_raw");
  write_bytes(dir + "/a", idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6}));
  const IdxArray a = read_idx(dir + "/a");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Idx, ReadsGoodGzipFile) {
  const std::string dir = temp_dir("idx_gz");
  write_gzip(dir + "/a.gz", idx_bytes({3}, {7, 8, 9}));
  const IdxArray a = read_idx(dir + "/a.gz");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{7, 8, 9}));
}

TEST(Idx, ReadsAGzipFileOfSeveralMembers) {
  // the first member's trailer records only its own size: the buffer must grow past that hint
  const std::string dir = temp_dir("idx_gz_members");
  std::vector<uint8_t> values(200000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<uint8_t>(i * 7);
  const std::vector<uint8_t> whole = idx_bytes({200000}, values);
  write_gzip(dir + "/first.gz", {whole.begin(), whole.begin() + 100});
  write_gzip(dir + "/second.gz", {whole.begin() + 100, whole.end()});
  std::vector<uint8_t> joined;
  for (const char* part : {"/first.gz", "/second.gz"}) {
    std::ifstream in(dir + part, std::ios::binary);
    joined.insert(joined.end(), std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  write_bytes(dir + "/a.gz", joined);
  const IdxArray a = read_idx(dir + "/a.gz");
  EXPECT_EQ(a.dims, (std::vector<int64_t>{200000}));
  EXPECT_EQ(a.data, values);
}

TEST(Idx, RejectsWrongMagic) {
  const std::string dir = temp_dir("idx_magic");
  auto bytes = idx_bytes({3}, {1, 2, 3});
  bytes[2] = 0x0D;  // float elements: not what gradflow reads
  write_bytes(dir + "/a", bytes);
  expect_input_error([&] { read_idx(dir + "/a"); }, dir + "/a", "wrong magic number");
}

TEST(Idx, RejectsTruncatedData) {
  const std::string dir = temp_dir("idx_trunc");
  write_bytes(dir + "/a", idx_bytes({2, 3}, {1, 2, 3, 4}));
  expect_input_error([&] { read_idx(dir + "/a"); }, dir + "/a", "truncated");
  write_bytes(dir + "/b", {0, 0, 8, 3, 0, 0});
  expect_input_error([&] { read_idx(dir + "/b"); }, dir + "/b", "truncated");
}

TEST(Idx, RejectsEmptyFileCorruptGzipAndMissingFile) {
  const std::string dir = temp_dir("idx_bad");
  write_bytes(dir + "/empty", {});
  expect_input_error([&] { read_idx(dir + "/empty"); }, dir + "/empty", "empty");
  auto gz_path = dir + "/c.gz";
  write_gzip(gz_path, idx_bytes({100}, std::vector<uint8_t>(100, 1)));
  std::ifstream in(gz_path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() / 2);  // cut the stream
  write_bytes(gz_path, bytes);
  expect_input_error([&] { read_idx(gz_path); }, gz_path, "corrupt gzip");
  write_bytes(dir + "/plain.gz", idx_bytes({1}, {1}));
  expect_input_error([&] { read_idx(dir + "/plain.gz"); }, dir + "/plain.gz", "not a gzip file");
  expect_input_error([&] { read_idx(dir + "/missing"); }, dir + "/missing", "cannot open");
}

TEST(Dataset, RejectsCountMismatchAndLabelsOutOfRange) {
  const std::string dir = temp_dir("pair");
  write_bytes(dir + "/img", idx_bytes({2, 2, 2}, std::vector<uint8_t>(8, 0)));
  write_bytes(dir + "/lab3", idx_bytes({3}, {0, 1, 1}));
  write_bytes(dir + "/lab_bad", idx_bytes({2}, {0, 10}));
  DataOptions options;
  options.classes = 10;
  expect_input_error([&] { load_idx_pair(dir + "/img", dir + "/lab3", options); }, dir + "/lab3", "3 labels");
  expect_input_error([&] { load_idx_pair(dir + "/img", dir + "/lab_bad", options); }, dir + "/lab_bad",
                     "label 10 at index 1");
}

TEST(Dataset, ScalesNormalisesAndSplits) {
  const std::string dir = temp_dir("splits");
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
  for (uint8_t i = 0; i < 10; ++i) {
    pixels.push_back(static_cast<uint8_t>(i * 25));
    pixels.push_back(255);
    labels.push_back(i % 3);
  }
  write_bytes(dir + "/train-images-idx3-ubyte", idx_bytes({10, 1, 2}, pixels));
  write_gzip(dir + "/train-labels-idx1-ubyte.gz", idx_bytes({10}, labels));
  DataOptions options;
  options.dir = dir;
  options.validation = 3;
  auto [train, validation] = load_train_validation(options);
  ASSERT_EQ(train.size(), 7);
  ASSERT_EQ(validation.size(), 3);
  EXPECT_EQ(train.features(), 2);
  EXPECT_FLOAT_EQ(train.images(1, 0), 25.0f / 255.0f);
  EXPECT_FLOAT_EQ(train.images(1, 1), 1.0f);
  EXPECT_FLOAT_EQ(validation.images(0, 0), 175.0f / 255.0f);  // sample 7 is the first held out
  EXPECT_EQ(validation.labels[0], 7 % 3);

  options.mean = 0.5;
  options.std = 0.25;
  const Dataset normalised = load_split(options, Split::Train);
  EXPECT_FLOAT_EQ(normalised.images(0, 1), 2.0f);  // (1 - 0.5) / 0.25
  expect_input_error([&] { load_split(options, Split::Test); }, dir + "/t10k-images-idx3-ubyte", "missing data file");
  expect_input_error([&] { load_data(options); }, dir + "/t10k-images-idx3-ubyte", "missing data file");
  const Dataset held_out = load_split(options, Split::Validation);
  ASSERT_EQ(held_out.size(), 3);
  EXPECT_FLOAT_EQ(held_out.images(0, 0), (175.0f / 255.0f - 0.5f) / 0.25f);

  // all three splits at once, the test files read on a second thread
  write_gzip(dir + "/t10k-images-idx3-ubyte.gz", idx_bytes({2, 1, 2}, {0, 51, 102, 255}));
  write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_bytes({2}, {4, 2}));
  const DataSplits all = load_data(options);
  EXPECT_EQ(all.train.size(), 7);
  EXPECT_TRUE((all.validation.images.array() == held_out.images.array()).all());
  ASSERT_EQ(all.test.size(), 2);
  EXPECT_FLOAT_EQ(all.test.images(1, 1), (1.0f - 0.5f) / 0.25f);
  EXPECT_EQ(all.test.labels[0], 4);
}

TEST(Batcher, ShufflesReproduciblyAndCoversEverySample) {
  Dataset data;
  data.images = Matrix(10, 1);
  data.labels = Labels(10);
  for (int i = 0; i < 10; ++i) {
    data.images(i, 0) = static_cast<float>(i);
    data.labels[i] = i;
  }
  std::mt19937_64 rng_a(1), rng_b(1);
  Batcher a(data, 4, rng_a), b(data, 4, rng_b);
  EXPECT_EQ(a.batches(), 3);
  a.shuffle();
  b.shuffle();
  std::vector<int> seen;
  Matrix x, x2;
  Labels y, y2;
  for (int64_t k = 0; k < a.batches(); ++k) {
    a.gather(k, x, y);
    b.gather(k, x2, y2);
    EXPECT_EQ(x, x2);
    for (Eigen::Index r = 0; r < y.size(); ++r) {
      EXPECT_EQ(x(r, 0), static_cast<float>(y[r]));  // images and labels stay paired
      seen.push_back(y[r]);
    }
  }
  EXPECT_EQ(y.size(), 2);  // the last batch is the remainder
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // the next epoch draws a different order
  a.gather(0, x, y);
  a.shuffle();
  a.gather(0, x2, y2);
  EXPECT_NE(y, y2);
}
