// Calibration: metrics on hand-computed examples, recovery of a known temperature, bounds,
// non-finite logits, the .npy writer and the image reader.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "gradflow/calibration/metrics.h"
#include "gradflow/calibration/temperature.h"
#include "gradflow/data/image.h"
#include "gradflow/errors.h"
#include "gradflow/npy.h"
#include "test_files.h"

using namespace gradflow;
using MatD = MatrixT<double>;

TEST(CalibrationMetrics, HandComputedExample) {
  // 4 samples, 2 classes, 2 bins: (0, 0.5] and (0.5, 1]
  MatD p(4, 2);
  p << 0.9, 0.1,   // predicts 0, label 0: right, confidence 0.9
      0.8, 0.2,    // predicts 0, label 1: wrong, confidence 0.8
      0.3, 0.7,    // predicts 1, label 1: right, confidence 0.7
      0.5, 0.5;    // predicts 0 (first max), label 1: wrong, confidence 0.5 -> bin (0, 0.5]
  Labels y(4);
  y << 0, 1, 1, 1;
  const CalibrationMetrics m = metrics_from_probabilities(p, y, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  // bin 1 (0.5, 1]: 3 samples, confidence (0.9 + 0.8 + 0.7) / 3 = 0.8, accuracy 2/3
  ASSERT_EQ(m.bins.size(), 2u);
  EXPECT_EQ(m.bins[0].count, 1);
  EXPECT_EQ(m.bins[1].count, 3);
  EXPECT_NEAR(m.bins[1].confidence, 0.8, 1e-12);
  EXPECT_NEAR(m.bins[1].accuracy, 2.0 / 3.0, 1e-12);
  // ECE = 3/4 |2/3 − 0.8| + 1/4 |0 − 0.5| = 0.1 + 0.125
  EXPECT_NEAR(m.ece, 0.225, 1e-12);
  EXPECT_NEAR(m.mce, 0.5, 1e-12);
  // Brier: (0.01 + 0.01) + (0.64 + 0.64) + (0.09 + 0.09) + (0.25 + 0.25), over 4
  EXPECT_NEAR(m.brier, (0.02 + 1.28 + 0.18 + 0.5) / 4, 1e-12);
  EXPECT_NEAR(m.nll, -(std::log(0.9) + std::log(0.2) + std::log(0.7) + std::log(0.5)) / 4, 1e-12);
}

TEST(CalibrationMetrics, FifteenBinsAreHalfOpenOnTheLeft) {
  MatD p(2, 2);
  p << 0.6, 0.4,                 // 0.6 = 9/15: lies in (8/15, 9/15], bin 8
      1.0 / 15 * 14, 1.0 / 15;  // 14/15: bin 13
  Labels y(2);
  y << 0, 0;
  const CalibrationMetrics m = metrics_from_probabilities(p, y, 15);
  EXPECT_EQ(m.bins[8].count, 1);
  EXPECT_EQ(m.bins[13].count, 1);
  EXPECT_NEAR(m.ece, (0.4 + 1.0 / 15) / 2, 1e-12);
}

TEST(CalibrationMetrics, RefusesNonFiniteLogits) {
  Matrix z(2, 3);
  z << 1, 2, 3, 0, std::nanf(""), 1;
  Labels y(2);
  y << 0, 1;
  EXPECT_THROW(calibration_metrics(z, y, 1.0), InputError);
}

namespace {
// 50,000 samples with logits z ~ 3·N(0, 1) and labels drawn from softmax(z / t0).
void synthetic(double t0, Matrix& z, Labels& y) {
  std::mt19937_64 rng(static_cast<uint64_t>(t0 * 1000));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const int n = 50000, c = 10;
  z.resize(n, c);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < c; ++k) z(i, k) = normal(rng);
    Eigen::ArrayXd p = (z.row(i).cast<double>().transpose().array() / t0);
    p = (p - p.maxCoeff()).exp();
    p /= p.sum();
    double u = uniform(rng), acc = 0;
    int label = c - 1;
    for (int k = 0; k < c; ++k) {
      acc += p[k];
      if (u < acc) {
        label = k;
        break;
      }
    }
    y[i] = label;
  }
}
}  // namespace

class RecoverTemperature : public ::testing::TestWithParam<double> {};

TEST_P(RecoverTemperature, WithinThreePercent) {
  const double t0 = GetParam();
  Matrix z;
  Labels y;
  synthetic(t0, z, y);
  const TemperatureFit fit = fit_temperature(z, y);
  EXPECT_NEAR(fit.temperature, t0, 0.03 * t0);
  EXPECT_LT(std::fabs(fit.gradient), 1e-6);
  EXPECT_TRUE(fit.bound.empty());
  EXPECT_LE(fit.nll_after, fit.nll_before + 1e-12);
  // the argmax never changes
  const MatD before = softmax(z, 1.0), after = softmax(z, fit.temperature);
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    Eigen::Index a = 0, b = 0;
    before.row(i).maxCoeff(&a);
    after.row(i).maxCoeff(&b);
    ASSERT_EQ(a, b);
  }
}

INSTANTIATE_TEST_SUITE_P(Temperatures, RecoverTemperature, ::testing::Values(0.5, 1.0, 2.0, 3.0));

TEST(Temperature, AllCorrectWithHugeMarginsReportsTheBound) {
  Matrix z = Matrix::Zero(100, 10);
  Labels y(100);
  for (int i = 0; i < 100; ++i) {
    y[i] = i % 10;
    z(i, i % 10) = 1000.0f;
  }
  const TemperatureFit fit = fit_temperature(z, y);
  EXPECT_EQ(fit.bound, "lower");
  EXPECT_TRUE(std::isfinite(fit.temperature));
  EXPECT_TRUE(std::isfinite(fit.nll_after));
  EXPECT_DOUBLE_EQ(fit.temperature, TemperatureOptions{}.min_temperature);
}

TEST(Temperature, RefusesNonFiniteLogitsWithAClearError) {
  Matrix z = Matrix::Ones(3, 4);
  z(1, 2) = std::numeric_limits<float>::infinity();
  Labels y(3);
  y << 0, 1, 2;
  try {
    fit_temperature(z, y);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("sample 1"), std::string::npos) << e.what();
  }
}

TEST(Temperature, DerivativesMatchFiniteDifferences) {
  Matrix z;
  Labels y;
  synthetic(2.0, z, y);
  const double t = 1.3, h = 1e-4;
  const NllDerivatives d = nll_derivatives(z, y, t);
  const double up = nll_derivatives(z, y, t * std::exp(h)).nll, down = nll_derivatives(z, y, t * std::exp(-h)).nll;
  EXPECT_NEAR(d.first, (up - down) / (2 * h), 1e-6);
  EXPECT_NEAR(d.second, (up - 2 * d.nll + down) / (h * h), 1e-4);
}

TEST(Npy, WritesFloat32Header) {
  Matrix m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  const std::string path = gradflow::testing::temp_dir("npy") + "/a.npy";
  write_npy(path, m);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  const size_t header = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + header) % 64, 0u);
  EXPECT_NE(bytes.find("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)"), std::string::npos);
  ASSERT_EQ(bytes.size(), 10 + header + 6 * sizeof(float));
  float values[6];
  std::memcpy(values, bytes.data() + 10 + header, sizeof values);
  EXPECT_EQ(values[5], 6.0f);
}

TEST(Image, CentresADarkDigitOnLightPaper) {
  // a 56 × 40 white page with a black bar: inverted, scaled to fit 20 × 20, centred
  const int rows = 56, cols = 40;
  const std::string path = gradflow::testing::temp_dir("image") + "/digit.pgm";
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << cols << " " << rows << "\n255\n";
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) out.put(static_cast<char>((r >= 8 && r < 48 && c >= 18 && c < 22) ? 0 : 255));
  }
  out.close();
  const Matrix x = read_digit_image(path);
  ASSERT_EQ(x.cols(), 784);
  EXPECT_GE(x.minCoeff(), 0.0f);
  EXPECT_LE(x.maxCoeff(), 1.0f);
  // ink in the middle column band, the borders stay black
  Eigen::Map<const Matrix> img(x.data(), 28, 28);
  EXPECT_GT(img(14, 13) + img(14, 14), 1.0f);
  EXPECT_EQ(img.row(0).sum(), 0.0f);
  EXPECT_EQ(img.col(0).sum(), 0.0f);
  // 20 rows of ink: the bar was scaled to fit 20 × 20
  int inked_rows = 0;
  for (int r = 0; r < 28; ++r) inked_rows += img.row(r).maxCoeff() > 0.5f;
  EXPECT_EQ(inked_rows, 20);
  EXPECT_THROW(read_digit_image(path + ".missing"), InputError);
}
