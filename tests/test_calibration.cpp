// Calibration: metrics on hand-computed examples, recovery of a known temperature, bounds,
// non-finite logits, the .npy writer and the image reader.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "gradflow/calibration/calibrator.h"
#include "gradflow/calibration/ensemble_temperature.h"
#include "gradflow/calibration/metrics.h"
#include "gradflow/calibration/temperature.h"
#include "gradflow/calibration/vector_scaling.h"
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

namespace {

// Samples a label from a probability row.
int draw(const Eigen::ArrayXd& p, std::mt19937_64& rng) {
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng), acc = 0;
  for (Eigen::Index k = 0; k < p.size(); ++k) {
    acc += p[k];
    if (u < acc) return static_cast<int>(k);
  }
  return static_cast<int>(p.size() - 1);
}

// n samples of C = 3 logits z ~ 2·N(0, 1), labels drawn from softmax(w ⊙ z + b)
void vector_synthetic(const Eigen::Vector3d& w, const Eigen::Vector3d& b, int n, Matrix& z, Labels& y) {
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  z.resize(n, 3);
  y.resize(n);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) z(i, k) = normal(rng);
    Eigen::ArrayXd u = w.array() * z.row(i).cast<double>().transpose().array() + b.array();
    u = (u - u.maxCoeff()).exp();
    y[i] = draw(u / u.sum(), rng);
  }
}

double relative_error(double a, double n) { return std::fabs(a - n) / std::max({std::fabs(a), std::fabs(n), 1e-12}); }

}  // namespace

TEST(VectorScaling, GradientMatchesFiniteDifferences) {
  Matrix z;
  Labels y;
  vector_synthetic({0.5, 1.0, 2.0}, {0.3, -0.2, -0.1}, 300, z, y);
  Eigen::VectorXd x(6), g(6), unused(6);
  x << 0.1, -0.3, 0.4, 0.2, -0.5, 0.1;
  vector_scaling_nll(z, y, x, g);
  const double h = 1e-6;
  for (Eigen::Index j = 0; j < 6; ++j) {
    Eigen::VectorXd up = x, down = x;
    up[j] += h;
    down[j] -= h;
    const double numeric = (vector_scaling_nll(z, y, up, unused) - vector_scaling_nll(z, y, down, unused)) / (2 * h);
    EXPECT_LT(relative_error(g[j], numeric), 1e-6) << "parameter " << j << ": " << g[j] << " vs " << numeric;
  }
}

TEST(VectorScaling, RecoversKnownScalesAndBiases) {
  const Eigen::Vector3d w{0.5, 1.0, 2.0}, b{0.3, -0.2, -0.1};  // Σ b = 0: the fit's gauge
  Matrix z;
  Labels y;
  vector_synthetic(w, b, 30000, z, y);
  const auto fit = fit_vector_scaling(z, y, 1.0);
  EXPECT_TRUE(fit->fit["converged"].get<bool>()) << fit->fit.dump();
  for (Eigen::Index k = 0; k < 3; ++k) {
    EXPECT_NEAR(fit->scale()[k], w[k], 0.06 * w[k]) << k;
    EXPECT_NEAR(fit->bias()[k], b[k], 0.05) << k;
  }
  EXPECT_LE(fit->fit["nll_after"].get<double>(), fit->fit["nll_before"].get<double>());
  // the stored per-sample NLL agrees with the probabilities
  const MatD p = fit->probabilities(z);
  const Eigen::VectorXd nll = fit->sample_nll(z, y);
  EXPECT_NEAR(nll[0], -std::log(p(0, y[0])), 1e-9);
  EXPECT_NEAR(nll.mean(), fit->fit["nll_after"].get<double>(), 1e-9);
}

TEST(VectorScaling, EqualScalesAreATemperature) {
  Matrix z;
  Labels y;
  vector_synthetic({0.5, 0.5, 0.5}, {0, 0, 0}, 20000, z, y);
  const auto fit = fit_vector_scaling(z, y, 1.0);
  const TemperatureFit t = fit_temperature(z, y);
  // more parameters never fit the validation NLL worse than the one they contain
  EXPECT_LE(fit->fit["nll_after"].get<double>(), t.nll_after + 1e-9);
  for (Eigen::Index k = 0; k < 3; ++k) EXPECT_NEAR(fit->scale()[k], 1 / t.temperature, 0.05);
}

namespace {

// Per sample, the label's log-probability under two random components and the uniform one
// (C = 4), labels drawn from the mixture with weights w.
MatD mixture_synthetic(const Eigen::Vector3d& w, int n) {
  std::mt19937_64 rng(7);
  std::gamma_distribution<double> gamma(0.5, 1.0);
  MatD log_q(n, 3);
  for (int i = 0; i < n; ++i) {
    Eigen::ArrayXd a(4), b(4);
    for (int k = 0; k < 4; ++k) a[k] = gamma(rng), b[k] = gamma(rng);
    a /= a.sum();
    b /= b.sum();
    const Eigen::ArrayXd mix = w[0] * a + w[1] * b + w[2] * 0.25;
    const int label = draw(mix, rng);
    log_q(i, 0) = std::log(a[label]);
    log_q(i, 1) = std::log(b[label]);
    log_q(i, 2) = std::log(0.25);
  }
  return log_q;
}

}  // namespace

TEST(EnsembleTemperature, MixtureGradientMatchesFiniteDifferences) {
  const MatD log_q = mixture_synthetic({0.6, 0.3, 0.1}, 200);
  const Eigen::Vector3d w{0.5, 0.2, 0.3};
  Eigen::Vector3d g, unused;
  mixture_nll(log_q, w, g);
  const double h = 1e-6;
  for (int j = 0; j < 3; ++j) {
    Eigen::Vector3d up = w, down = w;
    up[j] += h;
    down[j] -= h;
    const double numeric = (mixture_nll(log_q, up, unused) - mixture_nll(log_q, down, unused)) / (2 * h);
    EXPECT_LT(relative_error(g[j], numeric), 1e-6) << j;
  }
  EXPECT_NEAR(w.dot(g), -1.0, 1e-12);  // Σ_j w_j ∂NLL/∂w_j = −1 on the simplex
}

TEST(EnsembleTemperature, RecoversKnownMixtureWeights) {
  const MixtureFit fit = fit_mixture_weights(mixture_synthetic({0.6, 0.3, 0.1}, 20000));
  EXPECT_TRUE(fit.converged);
  EXPECT_NEAR(fit.weights[0], 0.6, 0.04);
  EXPECT_NEAR(fit.weights[1], 0.3, 0.04);
  EXPECT_NEAR(fit.weights[2], 0.1, 0.04);
  // an optimum on a vertex: all labels from the first component
  const MixtureFit vertex = fit_mixture_weights(mixture_synthetic({1, 0, 0}, 5000));
  EXPECT_TRUE(vertex.converged);
  EXPECT_GT(vertex.weights[0], 0.95);
}

TEST(EnsembleTemperature, FitsOnLogitsAndStaysOnTheSimplex) {
  Matrix z;
  Labels y;
  synthetic(2.0, z, y);
  const auto fit = fit_ensemble_temperature(z.topRows(5000), y.head(5000), 1.0);
  EXPECT_TRUE(fit->fit["converged"].get<bool>()) << fit->fit.dump();
  const auto& w = fit->weights();
  EXPECT_NEAR(w[0] + w[1] + w[2], 1.0, 1e-12);
  for (double wj : w) EXPECT_GE(wj, 0.0);
  EXPECT_LE(fit->fit["nll_after"].get<double>(), fit->fit["temperature_fit"]["nll_after"].get<double>() + 1e-9);
  const MatD p = fit->probabilities(z.topRows(10));
  for (Eigen::Index i = 0; i < 10; ++i) EXPECT_NEAR(p.row(i).sum(), 1.0, 1e-12);
  EXPECT_NEAR(fit->sample_nll(z.topRows(10), y.head(10))[3], -std::log(p(3, y[3])), 1e-9);
}

TEST(Calibrator, RefusesATooSmallOrSingleClassValidationSplit) {
  Matrix z = Matrix::Random(49, 3);
  Labels y = Labels::Zero(49);
  y[0] = 1;
  EXPECT_THROW(fit_calibrator("temperature", z, y, 1.0), InputError);
  Matrix z60 = Matrix::Random(60, 3);
  try {
    fit_calibrator("vector", z60, Labels::Zero(60), 1.0);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("one class"), std::string::npos) << e.what();
  }
}

TEST(Calibrator, EveryMethodRoundTripsThroughCheckpointMetadata) {
  Matrix z;
  Labels y;
  synthetic(2.0, z, y);
  const Matrix val = z.topRows(2000);
  const Labels val_y = y.head(2000);
  for (const std::string& method : calibration_methods()) {
    const auto fitted = fit_calibrator(method, val, val_y, 1.0);
    EXPECT_EQ(fitted->method(), method);
    std::map<std::string, std::string> metadata{{"gradflow.temperature", "1.5"}};
    put_calibrator(metadata, *fitted);
    EXPECT_EQ(metadata.count("gradflow.temperature"), method == "temperature" ? 1u : 0u) << method;
    const auto loaded = stored_calibrator(metadata, 1.0);
    EXPECT_EQ(loaded->method(), method);
    EXPECT_TRUE((loaded->probabilities(z.bottomRows(5)) - fitted->probabilities(z.bottomRows(5))).cwiseAbs().maxCoeff() < 1e-12)
        << method;
  }
  // no calibrator stored: the raw model, and an old checkpoint's temperature
  EXPECT_EQ(stored_calibrator({}, 1.0)->method(), "none");
  EXPECT_EQ(stored_calibrator({{"gradflow.temperature", "2"}}, 1.0)->parameters()["temperature"], 2.0);
  EXPECT_THROW(stored_calibrator({{"gradflow.calibrator", "{\"method\": \"vector\", \"parameters\": {\"scale\": [-1], \"bias\": [0]}}"}}, 1.0),
               InputError);
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

TEST(ConfusionMatrix, CountsTrueRowsAgainstPredictedColumns) {
  MatrixT<double> scores(4, 3);
  scores << 0.7, 0.2, 0.1,   // label 0, predicted 0
      0.1, 0.3, 0.6,         // label 1, predicted 2
      0.2, 0.5, 0.3,         // label 1, predicted 1
      0.5, 0.4, 0.1;         // label 2, predicted 0
  Labels labels(4);
  labels << 0, 1, 1, 2;
  const std::vector<std::vector<int64_t>> expected{{1, 0, 0}, {0, 1, 1}, {1, 0, 0}};
  EXPECT_EQ(confusion_matrix(scores, labels), expected);
}
