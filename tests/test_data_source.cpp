// Data sources: the registry, the idx source's shapes and class names read from the data, class
// names through a checkpoint, a 3-class data set of 5 × 4 images trained through train(), and
// predict's centring applied to digit data only.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "gradflow/checkpoint.h"
#include "gradflow/config.h"
#include "gradflow/data/idx_source.h"
#include "gradflow/data/image.h"
#include "gradflow/data/source.h"
#include "gradflow/errors.h"
#include "gradflow/evaluate.h"
#include "gradflow/train.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {

// Expects an InputError whose one-line message contains every fragment.
template <typename F>
void expect_input_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL() << "no error; expected " << fragments[0];
  } catch (const InputError& e) {
    const std::string what = e.what();
    for (const auto& fragment : fragments) EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

// An idx directory of `rows` × `cols` images, labels cycling over `classes`; the class's index
// decides which band of rows is bright, so a small model separates them.
std::string write_banded_dataset(const std::string& name, uint32_t rows, uint32_t cols, uint32_t classes,
                                 uint32_t n_train, uint32_t n_test) {
  const std::string dir = temp_dir(name);
  uint32_t state = 777;
  auto noise = [&state] {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % 60;
  };
  auto make = [&](uint32_t n, const std::string& prefix) {
    std::vector<uint8_t> images, labels;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t label = (i * 7 + i / 3) % classes;
      labels.push_back(static_cast<uint8_t>(label));
      for (uint32_t r = 0; r < rows; ++r) {
        for (uint32_t c = 0; c < cols; ++c) {
          const bool bright = r * classes / rows == label;
          images.push_back(static_cast<uint8_t>((bright ? 180 : 0) + noise()));
        }
      }
    }
    write_bytes(dir + "/" + prefix + "-images-idx3-ubyte", idx_bytes({n, rows, cols}, images));
    write_gzip(dir + "/" + prefix + "-labels-idx1-ubyte.gz", idx_bytes({n}, labels));
  };
  make(n_train, "train");
  make(n_test, "t10k");
  return dir;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

json banded_config(const std::string& dir, int64_t units = 3) {
  return json{{"name", "banded"},
              {"seed", 5},
              {"threads", 1},
              {"data", {{"dir", dir}, {"validation", 60}}},
              {"model",
               {{"input", 20},
                {"layers", {{{"type", "dense"}, {"units", 16}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", units}}}}}},
              {"optimizer", {{"lr", 0.1}, {"momentum", 0.9}}},
              {"training", {{"epochs", 4}, {"batch_size", 20}}}};
}

// A source defined here, outside the library: registering it is all a new source takes.
class CheckerSource : public DataSource {
 public:
  explicit CheckerSource(const DataOptions& options) : options_(options) {}
  DataSplits load(const std::vector<Split>& which) const override {
    DataSplits splits;
    auto make = [](int64_t n) {
      Dataset d;
      d.images = Matrix::Zero(n, 6);
      d.labels = Labels(n);
      for (int64_t i = 0; i < n; ++i) {
        d.labels[i] = static_cast<int>(i % 2);
        for (int64_t c = 0; c < 6; ++c) d.images(i, c) = (c % 2 == i % 2) ? 1.0f : 0.0f;
      }
      return d;
    };
    for (Split s : which) (s == Split::Train ? splits.train : s == Split::Validation ? splits.validation : splits.test) = make(40);
    splits.description = {"checker", 2, 3, 1, {"even", "odd"}, false, "the checker source"};
    return splits;
  }

 private:
  DataOptions options_;
};
GRADFLOW_REGISTER_DATA_SOURCE(CheckerSource, "checker", "two classes of 2 × 3 stripes, made up in memory");

}  // namespace

TEST(DataSourceRegistry, ListsFormatsAndRejectsAnUnknownOneAtDataFormat) {
  const auto formats = DataSourceRegistry::instance().formats();
  EXPECT_NE(std::find(formats.begin(), formats.end(), "idx"), formats.end());
  EXPECT_NE(std::find(formats.begin(), formats.end(), "checker"), formats.end());
  DataOptions options;
  options.format = "csv";
  try {
    DataSourceRegistry::instance().create(options);
    FAIL() << "no error for format csv";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/data/format");
    EXPECT_NE(std::string(e.what()).find("\"idx\""), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"checker\""), std::string::npos) << e.what();
  }
  // the config names the same path before any file is read
  json config = banded_config("nowhere");
  config["data"]["format"] = "csv";
  try {
    parse_config(config);
    FAIL() << "no error for data.format csv";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/data/format");
    EXPECT_NE(std::string(e.what()).find("idx"), std::string::npos) << e.what();
  }
}

TEST(DataSourceRegistry, ASourceRegisteredOutsideTheLibraryTrains) {
  json config = banded_config("unused");
  config["data"] = {{"format", "checker"}};
  config["model"] = {{"input", 6}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  config["training"] = {{"epochs", 3}, {"batch_size", 8}};
  const TrainSummary summary = train(parse_config(config), temp_dir("checker_run"));
  EXPECT_EQ(summary.test.accuracy, 1.0);
  const LoadedCheckpoint loaded = load_checkpoint(summary.run_dir + "/model.safetensors");
  EXPECT_EQ(loaded.data.format, "checker");
  EXPECT_EQ(loaded.data.class_names, (std::vector<std::string>{"even", "odd"}));
}

TEST(IdxSource, ShapeAndClassCountComeFromTheFiles) {
  const std::string dir = write_banded_dataset("idx_shape", 5, 4, 3, 30, 9);
  DataOptions options;
  options.dir = dir;
  options.validation = 6;
  const DataSplits splits = load_data(options);
  EXPECT_EQ(splits.train.size(), 24);
  EXPECT_EQ(splits.validation.size(), 6);
  EXPECT_EQ(splits.test.size(), 9);
  EXPECT_EQ(splits.train.features(), 20);
  const DataDescription& d = splits.description;
  EXPECT_EQ(d.format, "idx");
  EXPECT_EQ(d.rows, 5);
  EXPECT_EQ(d.cols, 4);
  EXPECT_EQ(d.channels, 1);
  EXPECT_EQ(d.features(), 20);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_FALSE(d.digits);  // three classes are not the ten digits

  // one split alone: the shape still comes from its file
  const DataSplits test_only = load_data(options, {Split::Test});
  EXPECT_EQ(test_only.train.size(), 0);
  EXPECT_EQ(test_only.test.size(), 9);
  EXPECT_EQ(test_only.description.rows, 5);

  // a model's output count bounds the labels and names the classes
  options.classes = 4;
  EXPECT_EQ(load_data(options).description.class_names, (std::vector<std::string>{"0", "1", "2", "3"}));
  options.classes = 2;
  expect_input_error([&] { load_data(options); }, {dir + "/train-labels-idx1-ubyte.gz", "label 2", "outputs 2 classes"});
}

TEST(IdxSource, TestImagesOfAnotherShapeAreAnError) {
  const std::string dir = write_banded_dataset("idx_two_shapes", 5, 4, 3, 12, 3);
  write_bytes(dir + "/t10k-images-idx3-ubyte", idx_bytes({3, 4, 5}, std::vector<uint8_t>(60, 1)));
  DataOptions options;
  options.dir = dir;
  options.validation = 2;
  expect_input_error([&] { load_data(options); }, {dir + "/t10k-images-idx3-ubyte", "4 × 5", "5 × 4"});
}

TEST(IdxSource, TenUnnamedClassesAreDigitsUnlessTheConfigSaysOtherwise) {
  const std::string dir = write_banded_dataset("idx_ten", 10, 2, 10, 40, 10);
  DataOptions options;
  options.dir = dir;
  options.validation = 10;
  EXPECT_TRUE(load_data(options).description.digits);
  options.digits = false;
  EXPECT_FALSE(load_data(options).description.digits);
}

TEST(IdxSource, ClassNamesFromClassesTxtOrTheConfig) {
  const std::string dir = write_banded_dataset("idx_names", 5, 4, 3, 12, 3);
  write_text(dir + "/classes.txt", "Sandal\n  Ankle boot \r\nT-shirt/top\n\n");
  DataOptions options;
  options.dir = dir;
  options.validation = 2;
  DataDescription d = load_data(options).description;
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"Sandal", "Ankle boot", "T-shirt/top"}));
  EXPECT_EQ(d.class_names_source, dir + "/classes.txt");
  EXPECT_FALSE(d.digits);

  // the config's names come first
  options.class_names = {"a", "b", "c"};
  EXPECT_EQ(load_data(options).description.class_names, (std::vector<std::string>{"a", "b", "c"}));
  options.class_names.clear();

  // from a config: data.class_names, checked against the model's output
  json config = banded_config(dir);
  config["data"]["class_names"] = {"x", "y", "z"};
  EXPECT_EQ(parse_config(config).data.class_names, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_EQ(parse_config(parse_config(config).to_json()).data.class_names, (std::vector<std::string>{"x", "y", "z"}));
  config["data"]["class_names"] = {"x", "y"};
  try {
    parse_config(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/data/class_names");
  }
  config["data"]["class_names"] = {"x", "y", "x"};
  try {
    parse_config(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/data/class_names/2");
  }
}

TEST(IdxSource, AClassesTxtThatDoesNotFitIsAnErrorNamingIt) {
  const std::string dir = write_banded_dataset("idx_bad_names", 5, 4, 3, 12, 3);
  DataOptions options;
  options.dir = dir;
  options.validation = 2;
  const std::string file = dir + "/classes.txt";

  write_text(file, "one\ntwo\n");  // too few names for the labels 0, 1, 2
  expect_input_error([&] { load_data(options); }, {"label 2", file, "names 2 classes"});

  write_text(file, "one\n\nthree\n");
  expect_input_error([&] { load_data(options); }, {file + ":2", "blank class name"});

  write_text(file, "one\ntwo\none\n");
  expect_input_error([&] { load_data(options); }, {file + ":3", "\"one\" appears twice"});

  write_text(file, "\n\n");
  expect_input_error([&] { load_data(options); }, {file, "no class names"});

  // too many names: the model's output (a checkpoint's) disagrees
  write_text(file, "a\nb\nc\nd\n");
  options.classes = 3;
  expect_input_error([&] { load_data(options); }, {file, "names 4 classes, the model outputs 3"});

  // ... or, in training, the config's model does
  json config = banded_config(dir);
  config["data"]["validation"] = 2;
  try {
    train(parse_config(config), temp_dir("bad_names_run"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/layers/2");
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
  }
}

TEST(DataDescription, ClassNamesRoundTripThroughACheckpoint) {
  const std::string dir = temp_dir("description_ckpt");
  Sequential<float> model(resolve_model_spec(json{{"input", 20}, {"layers", {{{"type", "dense"}, {"units", 3}}}}}));
  DataDescription d;
  d.rows = 5, d.cols = 4;
  d.class_names = {"Sneaker", "Bag", "Ankle boot"};
  save_checkpoint(dir + "/m.safetensors", model, json(), {{kDataDescriptionKey, d.to_json().dump()}});
  const LoadedCheckpoint loaded = load_checkpoint(dir + "/m.safetensors");
  EXPECT_EQ(loaded.data.class_names, d.class_names);
  EXPECT_EQ(loaded.data.rows, 5);
  EXPECT_EQ(loaded.data.cols, 4);
  EXPECT_FALSE(loaded.data.digits);
  EXPECT_EQ(loaded.data.to_json(), d.to_json());

  // a description that does not fit the model
  d.class_names.pop_back();
  save_checkpoint(dir + "/bad.safetensors", model, json(), {{kDataDescriptionKey, d.to_json().dump()}});
  expect_input_error([&] { load_checkpoint(dir + "/bad.safetensors"); },
                     {dir + "/bad.safetensors", "gradflow.data", "2 classes"});
  save_checkpoint(dir + "/junk.safetensors", model, json(), {{kDataDescriptionKey, "{\"rows\": 5}"}});
  expect_input_error([&] { load_checkpoint(dir + "/junk.safetensors"); }, {dir + "/junk.safetensors", "missing"});
}

TEST(DataDescription, ACheckpointWithoutOneGetsIndexNames) {
  const std::string dir = temp_dir("description_old");
  Sequential<float> digits(resolve_model_spec(json{{"input", 784}, {"layers", {{{"type", "dense"}, {"units", 10}}}}}));
  save_checkpoint(dir + "/digits.safetensors", digits, json());
  const LoadedCheckpoint loaded = load_checkpoint(dir + "/digits.safetensors");
  EXPECT_EQ(loaded.metadata.count(kDataDescriptionKey), 0u);
  EXPECT_EQ(loaded.data.class_names, index_class_names(10));
  EXPECT_EQ(loaded.data.rows, 28);
  EXPECT_EQ(loaded.data.cols, 28);
  EXPECT_TRUE(loaded.data.digits);

  Sequential<float> other(resolve_model_spec(json{{"input", 20}, {"layers", {{{"type", "dense"}, {"units", 3}}}}}));
  save_checkpoint(dir + "/other.safetensors", other, json());
  const LoadedCheckpoint old = load_checkpoint(dir + "/other.safetensors");
  EXPECT_EQ(old.data.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(old.data.rows * old.data.cols, 20);
  EXPECT_FALSE(old.data.digits);
}

TEST(IdxSource, ThreeClassesOfFiveByFourImagesTrainThroughTheNormalPath) {
  const std::string dir = write_banded_dataset("idx_train_5x4", 5, 4, 3, 600, 150);
  write_text(dir + "/classes.txt", "top\nmiddle\nbottom\n");
  const std::string run_dir = temp_dir("idx_train_5x4_run");
  const TrainSummary summary = train(parse_config(banded_config(dir)), run_dir);
  EXPECT_GE(summary.test.accuracy, 0.97);
  const LoadedCheckpoint loaded = load_checkpoint(run_dir + "/model.safetensors");
  EXPECT_EQ(loaded.data.rows, 5);
  EXPECT_EQ(loaded.data.cols, 4);
  EXPECT_EQ(loaded.data.class_names, (std::vector<std::string>{"top", "middle", "bottom"}));
  EXPECT_FALSE(loaded.data.digits);
  std::ifstream report(run_dir + "/report.html");
  const std::string html((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("<td>middle</td>"), std::string::npos);

  // a model of the wrong width is named at its last layer
  try {
    train(parse_config(banded_config(dir, 10)), temp_dir("idx_train_5x4_wide"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.path(), "/model/layers/2");
    EXPECT_NE(std::string(e.what()).find("outputs 10 classes"), std::string::npos) << e.what();
  }
}

TEST(Picture, CentredAsADigitOnlyForDigitData) {
  // a 28 × 28 picture, black paper, a bright 4 × 4 square in the top-left corner
  const std::string dir = temp_dir("picture");
  const std::string path = dir + "/corner.pgm";
  {
    std::ofstream pgm(path, std::ios::binary);
    pgm << "P5\n28 28\n255\n";
    for (int r = 0; r < 28; ++r) {
      for (int c = 0; c < 28; ++c) pgm.put(static_cast<char>(r >= 1 && r < 5 && c >= 1 && c < 5 ? 255 : 0));
    }
  }
  DataDescription data;
  data.rows = 28, data.cols = 28;
  data.class_names = index_class_names(10);
  auto centre_of_mass = [](const Matrix& x) {
    double mass = 0, row = 0;
    for (int i = 0; i < 784; ++i) {
      mass += x(0, i);
      row += static_cast<double>(x(0, i)) * (i / 28);
    }
    return row / mass;
  };
  // a picture of the data's own shape is taken as it is, digit or not
  data.digits = true;
  EXPECT_NEAR(centre_of_mass(read_picture(path, data)), 2.5, 1e-6);
  data.digits = false;
  const Matrix photo = read_picture(path, data);
  EXPECT_NEAR(centre_of_mass(photo), 2.5, 1e-6);
  EXPECT_EQ((photo.array() > 0.5f).count(), 16);

  // a 56 × 56 picture with an 8 × 8 square near its top-left corner
  const std::string big = dir + "/big.pgm";
  {
    std::ofstream pgm(big, std::ios::binary);
    pgm << "P5\n56 56\n255\n";
    for (int r = 0; r < 56; ++r) {
      for (int c = 0; c < 56; ++c) pgm.put(static_cast<char>(r >= 2 && r < 10 && c >= 2 && c < 10 ? 255 : 0));
    }
  }
  // digits: the ink's box scaled to 20 × 20 and moved to the middle
  data.digits = true;
  const Matrix digit = read_picture(big, data);
  EXPECT_NEAR(centre_of_mass(digit), 13.5, 1.0);
  EXPECT_GT((digit.array() > 0.5f).count(), 300);
  // anything else: the whole picture scaled to 28 × 28, never cropped to its ink — the corner stays
  data.digits = false;
  const Matrix shrunk = read_picture(big, data);
  EXPECT_NEAR(centre_of_mass(shrunk), 2.5, 0.1);
  EXPECT_EQ((shrunk.array() > 0.5f).count(), 16);

  // 5 × 4 data: a 10 × 8 picture halves into it
  DataDescription small;
  small.rows = 5, small.cols = 4;
  small.class_names = {"a", "b", "c"};
  const std::string tall = dir + "/tall.pgm";
  {
    std::ofstream pgm(tall, std::ios::binary);
    pgm << "P5\n8 10\n255\n";
    for (int i = 0; i < 80; ++i) pgm.put(static_cast<char>(i < 16 ? 255 : 0));  // the top two rows
  }
  const Matrix fitted = read_picture(tall, small);
  ASSERT_EQ(fitted.cols(), 20);
  EXPECT_FLOAT_EQ(fitted(0, 0), 1.0f);
  EXPECT_FLOAT_EQ(fitted(0, 19), 0.0f);
}

namespace {
// A shipped config's data directory from the source tree; empty when its files are absent.
std::string shipped_data(const std::string& name) {
  const std::string dir = std::string(GRADFLOW_SOURCE_DIR) + "/datasets/" + name;
  const bool present = std::filesystem::exists(dir + "/" + kIdxTrainImages) ||
                       std::filesystem::exists(dir + "/" + kIdxTrainImages + ".gz");
  return present ? dir : "";
}
}  // namespace

TEST(FashionSmoke, OneEpochNamesTheClassesAndIsNotDigits) {
  const std::string data = shipped_data("fashion-mnist");
  if (data.empty()) GTEST_SKIP() << "no Fashion-MNIST (scripts/fetch-fashion-mnist.sh installs it)";
  json raw = load_json_file(std::string(GRADFLOW_SOURCE_DIR) + "/configs/fashion_mlp.json");
  apply_override(raw, "training.epochs=1");
  apply_override(raw, "data.dir=" + data);
  const std::string run_dir = temp_dir("fashion_smoke");
  const TrainSummary summary = train(parse_config(raw), run_dir);
  EXPECT_GE(summary.test.accuracy, 0.80);
  EXPECT_EQ(summary.test.count, 10000);
  const LoadedCheckpoint loaded = load_checkpoint(run_dir + "/model.safetensors");
  EXPECT_EQ(loaded.data.rows, 28);
  EXPECT_EQ(loaded.data.cols, 28);
  ASSERT_EQ(loaded.data.classes(), 10);
  EXPECT_EQ(loaded.data.class_names[0], "T-shirt/top");
  EXPECT_EQ(loaded.data.class_names[7], "Sneaker");
  EXPECT_EQ(loaded.data.class_names[9], "Ankle boot");
  EXPECT_FALSE(loaded.data.digits);
}

TEST(MnistSmoke, TheDigitsAreDigits) {
  const std::string data = shipped_data("mnist");
  if (data.empty()) GTEST_SKIP() << "no MNIST (scripts/fetch-mnist.sh fetches it)";
  DataOptions options;
  options.dir = data;
  const DataDescription d = load_data(options, {Split::Test}).description;
  EXPECT_EQ(d.rows, 28);
  EXPECT_EQ(d.cols, 28);
  EXPECT_EQ(d.class_names, index_class_names(10));
  EXPECT_TRUE(d.digits);
}
