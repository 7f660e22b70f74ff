// Photos of digits: the paper, its light and the ink's colour removed, the digit found and
// centred like MNIST's (known values against a clean picture), a blank page and two digits told
// apart; and predict's handling of them — --show, standard input, one bad file among good ones.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "gradflow/data/digit.h"
#include "gradflow/data/image.h"
#include "gradflow/errors.h"
#include "test_cli.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {

constexpr int kRows = 160, kCols = 200;

// How much ink covers (r, c), in [0, 1]: `shape` sampled 4 × 4 times per pixel (antialiased).
using Shape = std::function<bool(double r, double c)>;
double coverage(const Shape& shape, int r, int c) {
  int inside = 0;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) inside += shape(r + (i + 0.5) / 4, c + (j + 0.5) / 4);
  }
  return inside / 16.0;
}

// A ring (a "0") of outer radius 34 and stroke 9, its centre at (cy, cx).
Shape ring(double cy, double cx) {
  return [cy, cx](double r, double c) {
    const double d = std::hypot((r - cy) / 1.2, c - cx);  // taller than wide, like a written 0
    return d <= 34 && d >= 25;
  };
}

// A binary PPM of kRows × kCols: paper(r, c) and ink colours, ink covering `shape`.
using Paper = std::function<std::array<double, 3>(int r, int c)>;
std::string ppm(const Shape& shape, const Paper& paper, std::array<double, 3> ink, uint32_t noise = 0) {
  std::string bytes = "P6\n" + std::to_string(kCols) + " " + std::to_string(kRows) + "\n255\n";
  uint32_t state = 99;
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCols; ++c) {
      const double cover = coverage(shape, r, c);
      const std::array<double, 3> p = paper(r, c);
      for (size_t k = 0; k < 3; ++k) {
        double v = 255.0 * (p[k] * (1 - cover) + ink[k] * p[k] * cover);  // ink reflects a share of the light
        if (noise > 0) {
          state = state * 1664525u + 1013904223u;
          v += static_cast<double>((state >> 8) % (2 * noise + 1)) - noise;
        }
        bytes += static_cast<char>(std::clamp(static_cast<int>(std::lround(v)), 0, 255));
      }
    }
  }
  return bytes;
}

const Paper kWhite = [](int, int) { return std::array<double, 3>{0.95, 0.95, 0.95}; };
const std::array<double, 3> kBlack{0.05, 0.05, 0.05};

DataDescription digits28() {
  DataDescription data;
  data.rows = data.cols = 28;
  data.digits = true;
  data.class_names = index_class_names(10);
  return data;
}

PreparedPicture prepare(const std::string& bytes) { return prepare_picture("photo.ppm", bytes, digits28()); }

double mean_abs_difference(const Matrix& a, const Matrix& b) { return (a - b).cwiseAbs().mean(); }

std::array<double, 2> centre_of_mass(const Matrix& x) {
  double mass = 0, row = 0, col = 0;
  for (int i = 0; i < 784; ++i) mass += x(0, i), row += x(0, i) * double(i / 28), col += x(0, i) * double(i % 28);
  return {row / mass, col / mass};
}

}  // namespace

TEST(Photo, ACleanDigitIsCentredLikeMnist) {
  const PreparedPicture clean = prepare(ppm(ring(60, 60), kWhite, kBlack));
  EXPECT_EQ(clean.digits, DigitCount::kOne);
  const auto [row, col] = centre_of_mass(clean.image);
  EXPECT_NEAR(row, 13.5, 0.6);
  EXPECT_NEAR(col, 13.5, 0.6);
  // the ring's box scaled to 20 rows; its stroke at full strength, the paper black
  Eigen::Map<const Matrix> img(clean.image.data(), 28, 28);
  int inked_rows = 0;
  for (int r = 0; r < 28; ++r) inked_rows += img.row(r).maxCoeff() > 0.5f;
  EXPECT_EQ(inked_rows, 20);
  EXPECT_FLOAT_EQ(clean.image.maxCoeff(), 1.0f);
  EXPECT_EQ(img.row(0).sum() + img.row(27).sum() + img.col(0).sum() + img.col(27).sum(), 0.0f);
  EXPECT_LT(img(13, 13), 0.05f) << "the ring's hole stays paper";
}

TEST(Photo, LightGradientsShadowsGreyPaperAndColouredInkGiveTheCleanImage) {
  const Matrix clean = prepare(ppm(ring(60, 60), kWhite, kBlack)).image;
  struct Case {
    const char* what;
    Paper paper;
    std::array<double, 3> ink;
    uint32_t noise;
  };
  const std::vector<Case> cases{
      {"grey paper", [](int, int) { return std::array<double, 3>{0.6, 0.6, 0.58}; }, kBlack, 0},
      {"light falling from 1 to 0.45 across the page",
       [](int, int c) {
         const double light = 1.0 - 0.55 * c / kCols;
         return std::array<double, 3>{0.9 * light, 0.9 * light, 0.88 * light};
       },
       kBlack, 0},
      {"a shadow over the bottom left",
       [](int r, int c) {
         const double light = r - c > 40 ? 0.55 : 1.0;
         return std::array<double, 3>{0.9 * light, 0.9 * light, 0.9 * light};
       },
       kBlack, 0},
      {"blue ballpoint ink", kWhite, {0.12, 0.18, 0.55}, 0},
      {"red ink on yellowish paper", [](int, int) { return std::array<double, 3>{0.93, 0.9, 0.75}; }, {0.7, 0.08, 0.08}, 0},
      {"noise", [](int, int) { return std::array<double, 3>{0.8, 0.8, 0.8}; }, kBlack, 12},
  };
  for (const Case& c : cases) {
    const PreparedPicture photo = prepare(ppm(ring(60, 60), c.paper, c.ink, c.noise));
    EXPECT_EQ(photo.digits, DigitCount::kOne) << c.what;
    EXPECT_LT(mean_abs_difference(photo.image, clean), 0.03) << c.what;
    EXPECT_LT((photo.image - clean).cwiseAbs().maxCoeff(), 0.35f) << c.what;
  }
  // faint grey ink under light that falls to a quarter across the page: darker paper on the right
  // than the ink on the left
  const Matrix dim = prepare(ppm(ring(60, 60), [](int, int c) {
                       const double light = 1.0 - 0.75 * c / kCols;
                       return std::array<double, 3>{light, light, light};
                     }, {0.4, 0.4, 0.4})).image;
  EXPECT_LT(mean_abs_difference(dim, clean), 0.04);
}

TEST(Photo, SpecksAndAPaperEdgeAreNotTheDigit) {
  const Matrix clean = prepare(ppm(ring(60, 60), kWhite, kBlack)).image;
  // a dark table along the left edge, and three specks of dirt far from the digit
  const Shape dirty = [](double r, double c) {
    const bool speck = (std::hypot(r - 20, c - 170) < 2) || (std::hypot(r - 140, c - 150) < 2) || (std::hypot(r - 145, c - 30) < 1.5);
    return ring(60, 60)(r, c) || speck || c < 6;
  };
  const PreparedPicture photo = prepare(ppm(dirty, kWhite, kBlack));
  EXPECT_EQ(photo.digits, DigitCount::kOne);
  EXPECT_LT(mean_abs_difference(photo.image, clean), 0.01);
}

TEST(Photo, ABlankPageHasNoDigit) {
  const Paper uneven = [](int r, int c) {
    const double light = 0.95 - 0.3 * (r + c) / (kRows + kCols);
    return std::array<double, 3>{light, light, light * 0.95};
  };
  const PreparedPicture blank = prepare(ppm([](double, double) { return false; }, uneven, kBlack, 8));
  EXPECT_EQ(blank.digits, DigitCount::kNone);
  EXPECT_EQ(blank.groups, 0);
  EXPECT_EQ(blank.image.maxCoeff(), 0.0f);
}

TEST(Photo, TwoSeparatedDigitsAreSeveral) {
  const Shape two = [](double r, double c) { return ring(80, 50)(r, c) || ring(80, 145)(r, c); };
  const PreparedPicture pair = prepare(ppm(two, kWhite, kBlack));
  EXPECT_EQ(pair.digits, DigitCount::kSeveral);
  EXPECT_EQ(pair.groups, 2);
  // a stroke broken in two close pieces is still one digit
  const Shape broken = [](double r, double c) { return ring(80, 100)(r, c) && std::abs(c - 100) > 1.5; };
  EXPECT_EQ(prepare(ppm(broken, kWhite, kBlack)).digits, DigitCount::kOne);
}

TEST(Photo, LightInkOnDarkPaperIsFoundToo) {
  const Matrix clean = prepare(ppm(ring(60, 60), kWhite, kBlack)).image;
  const Paper board = [](int, int) { return std::array<double, 3>{0.15, 0.2, 0.15}; };
  const PreparedPicture chalk = prepare(ppm(ring(60, 60), board, {5.0, 4.0, 5.0}));  // ink brighter than the board
  EXPECT_EQ(chalk.digits, DigitCount::kOne);
  EXPECT_LT(mean_abs_difference(chalk.image, clean), 0.03);
}

namespace {

// A model of 784 inputs trained on digits-like data (data.digits), so predict finds and centres.
std::string digit_checkpoint() {
  static const std::string path = [] {
    const std::string data = write_separable_dataset("photo_data", 200, 40, 28);
    const std::string dir = temp_dir("photo_model");
    const json config{{"name", "photo"},
                      {"seed", 2},
                      {"threads", 1},
                      {"data", {{"dir", data}, {"validation", 40}, {"digits", true}}},
                      {"model", {{"input", 784}, {"layers", {{{"type", "dense"}, {"units", 8}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 2}}}}}},
                      {"optimizer", {{"lr", 0.05}, {"momentum", 0.9}}},
                      {"training", {{"epochs", 1}, {"batch_size", 20}}}};
    std::ofstream(dir + "/c.json") << config.dump();
    const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run");
    EXPECT_EQ(r.code, 0) << r.err;
    return dir + "/run/model.safetensors";
  }();
  return path;
}

void write_text(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// `gradflow ARGS < input`.
CliRun run_with_stdin(const std::string& args, const std::string& input) {
  const std::string dir = temp_dir("photo_io");
  const int status = std::system((std::string(GRADFLOW_BINARY) + " " + args + " >" + dir + "/out 2>" + dir + "/err <" + input).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_all(dir + "/out"), read_all(dir + "/err")};
}

}  // namespace

TEST(PredictPhotos, ShowSavesExactlyWhatTheModelSees) {
  const std::string model = digit_checkpoint(), dir = temp_dir("photo_show");
  const std::string photo_bytes = ppm(ring(70, 90), [](int, int c) {
    const double light = 0.9 - 0.3 * c / kCols;
    return std::array<double, 3>{light, light, light};
  }, {0.1, 0.15, 0.5}, 6);
  write_text(dir + "/ring.ppm", photo_bytes);
  CliRun r = run_cli("predict --checkpoint " + model + " --json --show " + dir + "/seen.png " + dir + "/ring.ppm");
  ASSERT_EQ(r.code, 0) << r.err;
  const json original = json::parse(r.out)["predictions"][0];

  // a 28 × 28 grey PNG holding the prepared image, to 8 bits
  const std::string png = read_all(dir + "/seen.png");
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const PreparedPicture shown = prepare_picture("seen.png", png, digits28());
  ASSERT_EQ(shown.image.cols(), 784);
  const Matrix expected = prepare_picture("ring.ppm", photo_bytes, digits28()).image;
  EXPECT_LE((shown.image - expected).cwiseAbs().maxCoeff(), 0.5f / 255.0f + 1e-6f);

  // fed back (28 × 28 is taken as it is), it gets the same prediction
  r = run_cli("predict --checkpoint " + model + " --json " + dir + "/seen.png");
  ASSERT_EQ(r.code, 0) << r.err;
  const json again = json::parse(r.out)["predictions"][0];
  EXPECT_EQ(again["top"][0]["class"], original["top"][0]["class"]);
  EXPECT_NEAR(again["top"][0]["probability"].get<double>(), original["top"][0]["probability"].get<double>(), 1e-3);

  // several inputs: %d numbers them from 1, a directory names them after the input; PGM by name
  r = run_cli("predict --checkpoint " + model + " --show " + dir + "/n%d.pgm " + dir + "/ring.ppm " + dir + "/ring.ppm");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_all(dir + "/n2.pgm").substr(0, 10), "P5\n28 28\n2");
  EXPECT_EQ(read_all(dir + "/n1.pgm"), read_all(dir + "/n2.pgm"));
  std::filesystem::create_directory(dir + "/shown");
  r = run_cli("predict --checkpoint " + model + " --show " + dir + "/shown " + dir + "/ring.ppm " + dir + "/seen.png");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir + "/shown/ring.png"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/shown/seen.png"));
  // without either, one line saying what to do
  r = run_cli("predict --checkpoint " + model + " --show " + dir + "/one.png " + dir + "/ring.ppm " + dir + "/ring.ppm");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gradflow: error: --show " + dir + "/one.png: several inputs need a %d in the name (digit-%d.png) or a directory\n");
  EXPECT_EQ(r.out, "");
}

TEST(PredictPhotos, OneBadFileAmongGoodOnesIsReportedAndTheOthersPredicted) {
  const std::string model = digit_checkpoint(), dir = temp_dir("photo_bad");
  write_text(dir + "/a.ppm", ppm(ring(60, 60), kWhite, kBlack));
  write_text(dir + "/b.ppm", ppm(ring(90, 120), kWhite, kBlack));
  write_text(dir + "/broken.png", "\x89PNG\r\n\x1a\n not really");
  const CliRun r = run_cli("predict --checkpoint " + model + " " + dir + "/a.ppm " + dir + "/missing.png " + dir +
                           "/broken.png " + dir + "/b.ppm");
  EXPECT_EQ(r.code, 2);
  ASSERT_EQ(lines(r.out), 2u) << r.out;
  EXPECT_EQ(r.out.rfind(dir + "/a.ppm:  ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\n" + dir + "/b.ppm:  "), std::string::npos) << r.out;
  EXPECT_EQ(lines(r.err), 2u) << r.err;
  EXPECT_NE(r.err.find("gradflow: error: " + dir + "/missing.png: no such file\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gradflow: error: " + dir + "/broken.png: cannot read the image"), std::string::npos) << r.err;

  // --json: the error is a field of its input, the others predicted
  const CliRun j = run_cli("predict --checkpoint " + model + " --json " + dir + "/missing.png " + dir + "/a.ppm");
  EXPECT_EQ(j.code, 2);
  const json predictions = json::parse(j.out)["predictions"];
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_EQ(predictions[0]["error"], dir + "/missing.png: no such file");
  EXPECT_EQ(predictions[1]["top"].size(), 2u);
}

TEST(PredictPhotos, DashReadsThePictureFromStandardInput) {
  const std::string model = digit_checkpoint(), dir = temp_dir("photo_stdin");
  write_text(dir + "/a.ppm", ppm(ring(60, 60), kWhite, kBlack));
  const CliRun from_file = run_cli("predict --checkpoint " + model + " " + dir + "/a.ppm");
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  const CliRun from_stdin = run_with_stdin("predict --checkpoint " + model + " -", dir + "/a.ppm");
  ASSERT_EQ(from_stdin.code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "<stdin>" + from_file.out.substr(dir.size() + 6));
  // nothing on standard input: one line, exit 2
  const CliRun empty = run_with_stdin("predict --checkpoint " + model + " -", "/dev/null");
  EXPECT_EQ(empty.code, 2);
  EXPECT_EQ(empty.err, "gradflow: error: <stdin>: empty, not a picture\n");
}

TEST(PredictPhotos, ABlankPageAndTwoDigitsAreWarnedAbout) {
  const std::string model = digit_checkpoint(), dir = temp_dir("photo_warn");
  write_text(dir + "/blank.ppm", ppm([](double, double) { return false; }, kWhite, kBlack, 5));
  write_text(dir + "/pair.ppm", ppm([](double r, double c) { return ring(80, 50)(r, c) || ring(80, 145)(r, c); }, kWhite, kBlack));
  CliRun r = run_cli("predict --checkpoint " + model + " " + dir + "/blank.ppm " + dir + "/pair.ppm");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "gradflow: warning: " + dir + "/blank.ppm: no digit found (a blank page?); not predicted\n" +
                       "gradflow: warning: " + dir + "/pair.ppm: the ink looks like 2 digits, not one; predicting the largest\n");
  EXPECT_EQ(lines(r.out), 1u) << "the blank page is not predicted";
  EXPECT_EQ(r.out.rfind(dir + "/pair.ppm:  ", 0), 0u) << r.out;

  r = run_cli("predict --checkpoint " + model + " --json " + dir + "/blank.ppm " + dir + "/pair.ppm");
  EXPECT_EQ(r.code, 0) << r.err;
  const json predictions = json::parse(r.out)["predictions"];
  ASSERT_EQ(predictions.size(), 2u);
  EXPECT_EQ(predictions[0]["warning"], "no digit");
  EXPECT_TRUE(predictions[0]["top"].empty());
  EXPECT_EQ(predictions[1]["warning"], "several digits");
  EXPECT_EQ(predictions[1]["digits"], 2);
  EXPECT_EQ(predictions[1]["top"].size(), 2u);
}
