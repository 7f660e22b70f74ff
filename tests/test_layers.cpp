// Dense and ReLU: known values, finite-difference gradients (double), the overwrite rule,
// initialisation, and a save/load round trip through a checkpoint.
#include <gtest/gtest.h>

#include <filesystem>

#include "gradflow/checkpoint.h"
#include "gradflow/layers/dense.h"
#include "gradflow/layers/relu.h"
#include "gradient_check.h"

using namespace gradflow;
using gradflow::testing::LayerProbe;
using gradflow::testing::MatD;

namespace {
MatD random_matrix(int64_t rows, int64_t cols, unsigned seed) {
  std::srand(seed);
  return MatD::Random(rows, cols);
}
}  // namespace

TEST(Dense, KnownValues) {
  Dense<float> dense(3, 2);
  dense.weight() << 1, 2, 3, -1, 0, 1;  // (out=2, in=3)
  dense.bias() << 0.5f, -0.5f;
  Matrix x(2, 3);
  x << 1, 1, 1, 1, 2, 3;
  Matrix y;
  dense.forward(x, y);
  Matrix expected(2, 2);
  expected << 6.5f, -0.5f, 14.5f, 1.5f;
  EXPECT_TRUE(y.isApprox(expected)) << y;

  Matrix dy(2, 2);
  dy << 1, 0, 0, 1;
  Matrix dx;
  dense.backward(x, y, dy, &dx);
  Matrix expected_dx(2, 3);  // dy W
  expected_dx << 1, 2, 3, -1, 0, 1;
  EXPECT_TRUE(dx.isApprox(expected_dx)) << dx;
  auto params = dense.parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "weight");
  EXPECT_EQ(params[0].shape, (std::vector<int64_t>{2, 3}));
  // dW = dy^T x: row 0 = x[0], row 1 = x[1]
  const float expected_dw[] = {1, 1, 1, 1, 2, 3};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(params[0].gradient[i], expected_dw[i]);
  EXPECT_FLOAT_EQ(params[1].gradient[0], 1.0f);
  EXPECT_FLOAT_EQ(params[1].gradient[1], 1.0f);
}

TEST(Dense, InputGradientMatchesFiniteDifferences) {
  Dense<double> dense(7, 5);
  std::mt19937_64 rng(3);
  dense.initialize(rng);
  LayerProbe probe{dense, random_matrix(4, 7, 1), random_matrix(4, 5, 2)};
  EXPECT_LT(probe.input_gradient_error(), 1e-6);
}

TEST(Dense, ParameterGradientsMatchFiniteDifferences) {
  Dense<double> dense(6, 4);
  std::mt19937_64 rng(4);
  dense.initialize(rng);
  LayerProbe probe{dense, random_matrix(3, 6, 5), random_matrix(3, 4, 6)};
  EXPECT_LT(probe.parameter_gradient_error(), 1e-6);
}

TEST(Dense, FiniteDifferenceCheckCatchesAWrongGradient) {
  // The check must be able to fail: perturb one gradient entry and watch the error grow.
  Dense<double> dense(3, 2);
  std::mt19937_64 rng(5);
  dense.initialize(rng);
  LayerProbe probe{dense, random_matrix(2, 3, 7), random_matrix(2, 2, 8)};
  probe.backward();
  auto p = dense.parameters()[0];
  std::vector<double> wrong(p.gradient, p.gradient + p.size());
  wrong[1] *= 1.001;
  EXPECT_GT(gradflow::testing::max_fd_error([&] { return probe.loss(); }, p.value, wrong.data(), p.size()), 1e-4);
}

TEST(FiniteDifferences, TheLibraryLoopVisitsOnlyTheListedEntriesAndRestoresThem) {
  // L = Σ c_i v_i²: dL/dv_i = 2 c_i v_i
  std::vector<double> v{1.0, -2.0, 3.0}, c{1.0, 2.0, 3.0}, analytic{2.0, -8.0, 18.0};
  int evaluations = 0;
  auto loss = [&] {
    ++evaluations;
    return c[0] * v[0] * v[0] + c[1] * v[1] * v[1] + c[2] * v[2] * v[2];
  };
  analytic[0] = 99.0;  // wrong, but entry 0 is not listed
  EXPECT_LT(max_central_difference_error(loss, v.data(), analytic.data(), std::vector<int64_t>{1, 2}, 1e-5, 1e-3), 1e-8);
  EXPECT_EQ(evaluations, 4);
  EXPECT_EQ(v, (std::vector<double>{1.0, -2.0, 3.0}));
  EXPECT_GT(max_central_difference_error(loss, v.data(), analytic.data(), 3, 1e-5, 1e-3), 0.9);
}

TEST(Dense, BackwardOverwritesParameterGradients) {
  Dense<double> dense(3, 2);
  std::mt19937_64 rng(6);
  dense.initialize(rng);
  LayerProbe probe{dense, random_matrix(2, 3, 9), random_matrix(2, 2, 10)};
  probe.backward();
  std::vector<double> first(dense.parameters()[0].gradient, dense.parameters()[0].gradient + 6);
  probe.backward();
  for (int i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(dense.parameters()[0].gradient[i], first[static_cast<size_t>(i)]);
}

TEST(Dense, BackwardReadsTheInputItIsHandedNotACopy) {
  // dW = dy^T x with the x passed to backward: the layer keeps no copy of the forward's input.
  Dense<double> dense(3, 2);
  std::mt19937_64 rng(12);
  dense.initialize(rng);
  const MatD x = random_matrix(4, 3, 13), other = random_matrix(4, 3, 14), dy = random_matrix(4, 2, 15);
  MatD y;
  dense.forward(x, y);
  dense.backward(other, y, dy, nullptr);
  const MatD expected = dy.transpose() * other;
  const MatD dw = Eigen::Map<const MatD>(dense.parameters()[0].gradient, 2, 3);
  EXPECT_TRUE(dw.isApprox(expected)) << dw;
}

TEST(Dense, KaimingUniformMatchesPyTorchBounds) {
  Dense<float> dense(400, 300);
  std::mt19937_64 rng(7);
  dense.initialize(rng);
  const float bound = 1.0f / 20.0f;  // 1 / sqrt(in)
  EXPECT_LE(dense.weight().cwiseAbs().maxCoeff(), bound);
  EXPECT_GT(dense.weight().cwiseAbs().maxCoeff(), 0.99f * bound);
  EXPECT_LE(dense.bias().cwiseAbs().maxCoeff(), bound);
  // U(-a, a) has variance a^2 / 3
  const double variance = dense.weight().array().square().mean();
  EXPECT_NEAR(variance, bound * bound / 3.0, 0.02 * bound * bound / 3.0);
}

TEST(Dense, XavierUniformBoundsAndZeroBias) {
  Dense<float> dense(100, 50, DenseInit::XavierUniform);
  std::mt19937_64 rng(8);
  dense.initialize(rng);
  const float bound = std::sqrt(6.0f / 150.0f);
  EXPECT_LE(dense.weight().cwiseAbs().maxCoeff(), bound);
  EXPECT_GT(dense.weight().cwiseAbs().maxCoeff(), 0.98f * bound);
  EXPECT_EQ(dense.bias().cwiseAbs().maxCoeff(), 0.0f);
}

TEST(ReLU, KnownValues) {
  ReLU<float> relu(4);
  Matrix x(1, 4);
  x << -2, 0, 0.5f, 3;
  Matrix y;
  relu.forward(x, y);
  Matrix expected(1, 4);
  expected << 0, 0, 0.5f, 3;
  EXPECT_EQ(y, expected);
  Matrix dy(1, 4);
  dy << 10, 20, 30, 40;
  Matrix dx;
  relu.backward(x, y, dy, &dx);
  Matrix expected_dx(1, 4);
  expected_dx << 0, 0, 30, 40;
  EXPECT_EQ(dx, expected_dx);
  EXPECT_TRUE(relu.parameters().empty());
}

TEST(LayerHooks, DenseCountsItsFlopsAndReLUItsGates) {
  const Dense<float> dense(3, 2);
  EXPECT_EQ(dense.forward_flop(5), 2.0 * 5 * 3 * 2);
  ReLU<float> relu(3);
  EXPECT_EQ(relu.forward_flop(5), 0.0);  // element-wise: not counted
  Matrix x(2, 3), y;
  x << -1, 2, -3, 4, -5, -6;
  relu.forward(x, y);
  const GateStatistics gates = relu.gate_statistics(x, y);
  EXPECT_EQ(gates.blocked, 4);                  // four entries are 0
  EXPECT_DOUBLE_EQ(gates.dead_fraction, 1.0 / 3);  // unit 2 is 0 for both samples
  // a layer without gates says so
  const GateStatistics none = dense.gate_statistics(x, y);
  EXPECT_LT(none.blocked, 0);
  EXPECT_LT(none.dead_fraction, 0);
}

TEST(ReLU, InputGradientMatchesFiniteDifferences) {
  ReLU<double> relu(6);
  MatD x = random_matrix(5, 6, 11);
  // keep inputs away from the kink at 0, where the derivative is undefined
  x = x.unaryExpr([](double v) { return std::fabs(v) < 0.05 ? v + 0.1 : v; });
  LayerProbe probe{relu, x, random_matrix(5, 6, 12)};
  EXPECT_LT(probe.input_gradient_error(), 1e-6);
}

namespace {
nlohmann::json small_spec() {
  return resolve_model_spec({{"input", 4},
                             {"layers", {{{"type", "dense"}, {"units", 3}}, {{"type", "relu"}},
                                         {{"type", "dense"}, {"units", 2}, {"init", "xavier_uniform"}}}}});
}
}  // namespace

TEST(LayersSaveLoad, RoundTripThroughCheckpoint) {
  Sequential<float> model(small_spec());
  std::mt19937_64 rng(13);
  model.initialize(rng);
  const auto path = (std::filesystem::temp_directory_path() / "gradflow_layers_roundtrip.safetensors").string();
  save_checkpoint(path, model, nullptr);
  LoadedCheckpoint loaded = load_checkpoint(path);
  EXPECT_EQ(loaded.model.describe(), model.describe());
  auto a = model.parameters();
  auto b = loaded.model.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].name, b[k].name);
    EXPECT_EQ(a[k].shape, b[k].shape);
    for (int64_t i = 0; i < a[k].size(); ++i) EXPECT_EQ(a[k].value[i], b[k].value[i]);
  }
  Matrix x = Matrix::Random(3, 4);
  EXPECT_EQ(model.forward(x), loaded.model.forward(x));
  std::filesystem::remove(path);
}
