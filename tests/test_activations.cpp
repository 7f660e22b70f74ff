// Known values for the layers beyond Dense and ReLU, and the head's label smoothing.
// (Their gradients are checked for every registered layer in test_registry.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "gradflow/distributed/communicator.h"
#include "gradflow/layers/batch_norm.h"
#include "gradflow/layers/dropout.h"
#include "gradflow/layers/gaussian_noise.h"
#include "gradflow/layers/gelu.h"
#include "gradflow/layers/leaky_relu.h"
#include "gradflow/layers/sigmoid.h"
#include "gradflow/layers/tanh.h"
#include "gradflow/softmax_cross_entropy.h"
#include "gradient_check.h"

using namespace gradflow;
using gradflow::testing::MatD;

namespace {
MatD row(std::initializer_list<double> values) {
  MatD m(1, static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (double v : values) m(0, i++) = v;
  return m;
}

// A random layer (dropout, noise) through loss = Σ w ⊙ y², in training mode, with its generator
// put back before every forward, so that every evaluation draws the same: x and w normal
// (rows × cols, from `seed`), y, dy = 2 w ⊙ y (which depends on the draws) and backward's dx,
// which must equal the loss's finite differences.
struct GivenTheDraws {
  MatD x, y, dy, dx;
};
template <typename Layer>
GivenTheDraws input_gradient_given_the_draws(Layer& layer, Eigen::Index rows, Eigen::Index cols, uint64_t seed) {
  const std::string state = layer.random_state();
  GivenTheDraws g;
  g.x.resize(rows, cols);
  MatD weights(rows, cols);
  std::mt19937_64 values(seed);
  std::normal_distribution<double> normal;
  for (Eigen::Index i = 0; i < g.x.size(); ++i) g.x.data()[i] = normal(values), weights.data()[i] = normal(values);
  auto loss = [&] {
    layer.set_random_state(state);
    layer.forward(g.x, g.y);
    return (weights.array() * g.y.array().square()).sum();
  };
  loss();
  g.dy = 2 * weights.cwiseProduct(g.y);
  layer.backward(g.x, g.y, g.dy, &g.dx);
  EXPECT_LT(gradflow::testing::max_fd_error(loss, g.x.data(), g.dx.data(), g.x.size()), 1e-7);
  loss();  // y at x again (the finite differences left it at a perturbed x)
  return g;
}
}  // namespace

TEST(LeakyReLU, KnownValues) {
  LeakyReLU<double> layer(3, 0.1);
  MatD y, dx;
  const MatD x = row({-2, 0, 3});
  layer.forward(x, y);
  EXPECT_TRUE(y.isApprox(row({-0.2, 0, 3})));
  layer.backward(x, y, row({1, 1, 1}), &dx);
  EXPECT_TRUE(dx.isApprox(row({0.1, 0.1, 1})));
}

TEST(Tanh, KnownValues) {
  Tanh<double> layer(2);
  MatD y, dx;
  const MatD x = row({0, 1});
  layer.forward(x, y);
  EXPECT_NEAR(y(0, 1), std::tanh(1.0), 1e-15);
  layer.backward(x, y, row({1, 1}), &dx);
  EXPECT_NEAR(dx(0, 0), 1.0, 1e-15);
  EXPECT_NEAR(dx(0, 1), 1 - std::tanh(1.0) * std::tanh(1.0), 1e-15);
}

TEST(Sigmoid, KnownValuesAndNoOverflow) {
  Sigmoid<float> layer(3);
  Matrix x(1, 3), y, dx;
  x << 0, -1000, 1000;
  layer.forward(x, y);
  EXPECT_FLOAT_EQ(y(0, 0), 0.5f);
  EXPECT_EQ(y(0, 1), 0.0f);
  EXPECT_EQ(y(0, 2), 1.0f);
  Matrix dy = Matrix::Ones(1, 3);
  layer.backward(x, y, dy, &dx);
  EXPECT_FLOAT_EQ(dx(0, 0), 0.25f);
  EXPECT_TRUE(dx.allFinite());
}

TEST(Gelu, KnownValues) {
  Gelu<double> layer(3);
  MatD y, dx;
  const MatD x = row({0, 1, -1});
  layer.forward(x, y);
  // PyTorch: gelu(1) = 0.8413447460685429, gelu(-1) = -0.15865525393145707
  EXPECT_NEAR(y(0, 0), 0.0, 1e-15);
  EXPECT_NEAR(y(0, 1), 0.8413447460685429, 1e-12);
  EXPECT_NEAR(y(0, 2), -0.15865525393145707, 1e-12);
  layer.backward(x, y, row({1, 1, 1}), &dx);
  EXPECT_NEAR(dx(0, 0), 0.5, 1e-15);
  EXPECT_NEAR(dx(0, 1), 0.8413447460685429 + 0.24197072451914337, 1e-12);  // Φ(1) + φ(1)
}

TEST(Dropout, InvertedMaskInTrainingIdentityInEval) {
  Dropout<float> layer(1000, 0.25);
  std::mt19937_64 rng(1);
  layer.initialize(rng);
  Matrix x = Matrix::Constant(4, 1000, 2.0f), y, dx;
  layer.forward(x, y);
  const double kept = (y.array() != 0.0f).cast<double>().mean();
  EXPECT_NEAR(kept, 0.75, 0.02);
  EXPECT_TRUE(((y.array() == 0.0f) || (y.array() == 2.0f / 0.75f)).all());
  EXPECT_NEAR(y.mean(), 2.0, 0.06);  // inverted: the expectation is kept
  Matrix dy = Matrix::Ones(4, 1000);
  layer.backward(x, y, dy, &dx);
  EXPECT_TRUE(((dx.array() != 0.0f) == (y.array() != 0.0f)).all());  // same mask as the forward
  layer.set_training(false);
  layer.forward(x, y);
  EXPECT_EQ(y, x);
  // the same seed gives the same masks
  Dropout<float> twin(1000, 0.25);
  std::mt19937_64 rng2(1);
  twin.initialize(rng2);
  Matrix y2;
  twin.forward(x, y2);
  layer.set_training(true);
  std::mt19937_64 rng3(1);
  layer.initialize(rng3);
  layer.forward(x, y);
  EXPECT_EQ(y, y2);
}

// Given the mask, y = x ⊙ m / (1 − p) is linear: backward's dx is dy ⊙ m / (1 − p) entry by entry,
// and the finite differences of a loss through the layer in training mode, with the generator put
// back before every forward (so every evaluation draws the same mask), equal it. Input dropout is
// this layer first in the model.
TEST(Dropout, InputGradientMatchesFiniteDifferencesGivenTheMask) {
  const double p = 0.3;
  Dropout<double> layer(6, p);
  std::mt19937_64 rng(5);
  layer.initialize(rng);
  const GivenTheDraws g = input_gradient_given_the_draws(layer, 5, 6, 11);
  const Eigen::Index dropped = (g.y.array() == 0.0).count();
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, g.y.size());
  for (Eigen::Index i = 0; i < g.x.size(); ++i) {
    const bool kept = g.y.data()[i] != 0.0;
    EXPECT_DOUBLE_EQ(g.y.data()[i], kept ? g.x.data()[i] / (1 - p) : 0.0) << i;
    EXPECT_DOUBLE_EQ(g.dx.data()[i], kept ? g.dy.data()[i] / (1 - p) : 0.0) << i;
  }
}

// The mask is defined draw by draw: unit i is kept when u_i >= p, u_i = (r_i >> 11)·2^-53 from the
// layer's mt19937_64, seeded by initialize(). Checked against that definition, written out here,
// for several p (the layer compares integers against ceil(p·2^53), drawing in blocks), over sizes
// that are not multiples of its block, and across consecutive batches.
TEST(Dropout, MaskIsTheDefinedDrawsBitForBit) {
  for (const double p : {0.1, 0.25, 0.3, 0.5, 0.999}) {
    for (const Eigen::Index cols : {1, 7, 300, 1031}) {
      Dropout<float> layer(cols, p);
      std::mt19937_64 seeder(42);
      layer.initialize(seeder);
      std::mt19937_64 seeder_again(42), draws(seeder_again());  // initialize() seeds with seeder's first number
      const float keep_scale = static_cast<float>(1.0 / (1.0 - p));
      const Matrix x = Matrix::Ones(3, cols);
      Matrix y;
      for (int batch = 0; batch < 2; ++batch) {
        layer.forward(x, y);
        for (Eigen::Index i = 0; i < y.size(); ++i) {
          const double u = static_cast<double>(draws() >> 11) * 0x1.0p-53;
          ASSERT_EQ(y.data()[i], u >= p ? keep_scale : 0.0f) << "p " << p << " cols " << cols << " entry " << i;
        }
      }
    }
  }
}

namespace {
// The noise as gaussian_noise.h defines it, written out in double: entry i of a training forward
// takes pair ⌊i/2⌋ of the layer's stream, the cosine for even i.
std::vector<double> defined_normals(std::mt19937_64& draws, int64_t entries) {
  std::vector<double> n;
  for (int64_t pair = 0; pair < (entries + 1) / 2; ++pair) {
    const uint64_t r = draws();
    const double u1 = static_cast<double>((r >> 40) + 1) * 0x1.0p-24, u2 = static_cast<double>((r >> 16) & 0xFFFFFFu) * 0x1.0p-24;
    const double radius = std::sqrt(-2 * std::log(u1)), angle = 6.283185307179586477 * u2;
    n.push_back(radius * std::cos(angle));
    n.push_back(radius * std::sin(angle));
  }
  n.resize(static_cast<size_t>(entries));
  return n;
}
}  // namespace

// Known values: y − x is σ times the defined draws (to float precision: the layer computes the
// log, sine and cosine in float, vectorised), over sizes that are odd and not multiples of its
// block, across consecutive batches; eval mode is the identity and draws nothing.
TEST(GaussianNoise, NoiseIsTheDefinedDraws) {
  for (const double sigma : {0.3, 1.0, 2.5}) {
    for (const Eigen::Index cols : {1, 7, 300, 1031}) {
      GaussianNoise<float> layer(cols, sigma);
      std::mt19937_64 seeder(42);
      layer.initialize(seeder);
      std::mt19937_64 seeder_again(42), draws(seeder_again());  // initialize() seeds with seeder's first number
      std::srand(5);
      const Matrix x = Matrix::Random(3, cols);
      Matrix y;
      for (int batch = 0; batch < 3; ++batch) {
        if (batch == 1) {  // an eval forward between two training ones: the identity, no draws
          layer.set_training(false);
          layer.forward(x, y);
          EXPECT_EQ(y, x);
          layer.set_training(true);
        }
        layer.forward(x, y);
        const std::vector<double> n = defined_normals(draws, x.size());
        for (Eigen::Index i = 0; i < y.size(); ++i) {
          ASSERT_NEAR(y.data()[i], x.data()[i] + sigma * n[size_t(i)], 4e-6 * (1 + sigma * (1 + std::abs(n[size_t(i)]))))
              << "sigma " << sigma << " cols " << cols << " entry " << i;
        }
      }
    }
  }
}

// The draws are standard normal: mean 0, variance 1, kurtosis 3, 68.27% within one sd, the two
// halves of a pair uncorrelated.
TEST(GaussianNoise, DrawsAreStandardNormal) {
  const int64_t pairs = 500000;
  std::vector<float> n(2 * pairs);
  MersenneTwister64 generator(7);
  draw_normal_pairs(generator, pairs, n.data());
  double sum = 0, squares = 0, fourth = 0, within_one = 0, cross = 0;
  for (int64_t i = 0; i < 2 * pairs; ++i) {
    const double v = n[size_t(i)];
    sum += v, squares += v * v, fourth += v * v * v * v, within_one += std::abs(v) < 1;
    ASSERT_LT(std::abs(v), 5.8) << "√(−2 ln 2^-24) = 5.77 bounds the draws";
  }
  for (int64_t p = 0; p < pairs; ++p) cross += double(n[size_t(2 * p)]) * double(n[size_t(2 * p + 1)]);
  const double count = 2.0 * pairs;
  EXPECT_NEAR(sum / count, 0.0, 0.005);
  EXPECT_NEAR(squares / count, 1.0, 0.005);
  EXPECT_NEAR(fourth / count, 3.0, 0.05);
  EXPECT_NEAR(within_one / count, 0.6827, 0.002);
  EXPECT_NEAR(cross / pairs, 0.0, 0.006);
}

// Given the noise, y = x + σn is a shift: the finite differences of a loss through the layer, in
// training mode with the generator put back before every forward (so every evaluation adds the
// same noise), equal backward's dx = dy.
TEST(GaussianNoise, InputGradientMatchesFiniteDifferencesGivenTheNoise) {
  GaussianNoise<double> layer(5, 0.7);
  std::mt19937_64 rng(3);
  layer.initialize(rng);
  const GivenTheDraws g = input_gradient_given_the_draws(layer, 4, 5, 9);
  EXPECT_GT((g.y - g.x).cwiseAbs().minCoeff(), 0.0) << "noise was added";
  EXPECT_EQ(g.dx, g.dy);
}

// Data-parallel ranks each add their rows of the global batch's noise: two shards, split at an
// odd entry (so one pair straddles them), add what one process adds to the whole batch, and
// leave the generator where it would be.
TEST(GaussianNoise, ShardsAddTheirRowsOfTheGlobalNoise) {
  const Eigen::Index cols = 7, rows = 5;
  std::srand(6);
  const Matrix x = Matrix::Random(rows, cols);
  GaussianNoise<float> whole(cols, 0.5), first(cols, 0.5), second(cols, 0.5);
  for (GaussianNoise<float>* layer : {&whole, &first, &second}) {
    std::mt19937_64 rng(12);
    layer->initialize(rng);
  }
  struct TwoRanks : Communicator {
    int size() const override { return 2; }
  } two_ranks;
  Matrix y_whole, y_first, y_second, again_whole, again_first;
  whole.forward(x, y_whole);
  first.set_batch_shard({&two_ranks, 0, rows});
  second.set_batch_shard({&two_ranks, 2, rows});
  first.forward(x.topRows(2), y_first);
  second.forward(x.bottomRows(3), y_second);
  EXPECT_EQ(Matrix(y_whole.topRows(2)), y_first);
  EXPECT_EQ(Matrix(y_whole.bottomRows(3)), y_second);
  whole.forward(x, again_whole);
  first.forward(x.topRows(2), again_first);
  EXPECT_EQ(Matrix(again_whole.topRows(2)), again_first) << "the next batch starts at the same draw";
  EXPECT_NE(again_whole, y_whole);
}

TEST(BatchNorm, KnownValuesAndRunningStatistics) {
  BatchNorm<double> layer(2, 1e-5, 0.1);
  MatD x(4, 2), y;
  x << 1, 10, 2, 20, 3, 30, 4, 40;
  layer.forward(x, y);
  // column 0: mean 2.5, biased var 1.25
  const double s = 1.0 / std::sqrt(1.25 + 1e-5);
  EXPECT_NEAR(y(0, 0), (1 - 2.5) * s, 1e-12);
  EXPECT_NEAR(y.col(1).mean(), 0.0, 1e-12);
  // running: 0.9 * 0 + 0.1 * mean; 0.9 * 1 + 0.1 * unbiased var (5/3)
  EXPECT_NEAR(layer.running_mean()[0], 0.25, 1e-12);
  EXPECT_NEAR(layer.running_var()[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-12);
  auto buffers = layer.buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].name, "running_mean");
  EXPECT_EQ(buffers[1].name, "running_var");
  EXPECT_EQ(buffers[2].name, "num_batches_tracked");
  EXPECT_TRUE(buffers[2].shape.empty());  // a scalar, as in PyTorch
  EXPECT_EQ(*buffers[2].value, 1.0);
  // eval mode uses the running statistics
  layer.set_training(false);
  layer.forward(x, y);
  EXPECT_NEAR(y(0, 0), (1 - 0.25) / std::sqrt(layer.running_var()[0] + 1e-5), 1e-12);
}

// affine false: no parameters, y = x̂, and dx is the affine layer's at γ = 1 and β = 0 — in
// training and in eval mode. The registry suite checks it against finite differences (false is
// its non-default value); the affine layer is checked here, with γ and β away from 1 and 0.
TEST(BatchNorm, WithoutAffineIsTheAffineLayerAtUnitScaleAndZeroShift) {
  BatchNorm<double> affine(3, 1e-5, 0.1, true), plain(3, 1e-5, 0.1, false);
  EXPECT_EQ(plain.parameter_count(), 0);
  EXPECT_TRUE(plain.parameter_shapes().empty());
  EXPECT_EQ(plain.buffers().size(), 3u);
  std::mt19937_64 values(4);
  std::normal_distribution<double> normal;
  MatD x(6, 3), dy(6, 3);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = 2 * normal(values) + 1, dy.data()[i] = normal(values);
  for (const bool training : {true, false}) {
    affine.set_training(training);
    plain.set_training(training);
    MatD ya, yp, dxa, dxp;
    affine.forward(x, ya);
    plain.forward(x, yp);
    EXPECT_TRUE(ya.isApprox(yp, 1e-14)) << "training " << training;
    affine.backward(x, ya, dy, &dxa);
    plain.backward(x, yp, dy, &dxp);
    EXPECT_TRUE(dxa.isApprox(dxp, 1e-14)) << "training " << training;
  }
  BatchNorm<double> shifted(3, 1e-5, 0.1, true);
  auto params = shifted.parameters();
  for (auto& p : params) {
    for (int64_t i = 0; i < p.size(); ++i) p.value[i] = 0.5 + 0.3 * static_cast<double>(i) + (p.name == "bias" ? 0.2 : 0.0);
  }
  gradflow::testing::LayerProbe probe{shifted, x, dy};
  EXPECT_LT(probe.input_gradient_error(), 1e-6);
  EXPECT_LT(probe.parameter_gradient_error(), 1e-6);
}

TEST(BatchNorm, RefusesASingleSampleInTraining) {
  BatchNorm<float> layer(3, 1e-5, 0.1);
  Matrix x = Matrix::Ones(1, 3), y;
  EXPECT_THROW(layer.forward(x, y), std::exception);
}

TEST(LabelSmoothing, LossAndGradientMatchTheSmoothedTarget) {
  SoftmaxCrossEntropy<double> head(1.0, 0.1);
  MatD z = row({1, 2, 3});
  Labels y(1);
  y << 0;
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  // q = 0.9 onehot + 0.1/3: loss = sum_k q_k (lse - z_k)
  const double expected = (0.9 + 0.1 / 3) * (lse - 1) + (0.1 / 3) * (lse - 2) + (0.1 / 3) * (lse - 3);
  EXPECT_NEAR(head.forward(z, y), expected, 1e-12);
  MatD dz;
  head.backward(dz);
  EXPECT_NEAR(dz(0, 0), head.probabilities()(0, 0) - (0.9 + 0.1 / 3), 1e-12);
  EXPECT_NEAR(dz(0, 2), head.probabilities()(0, 2) - 0.1 / 3, 1e-12);
  const double error = gradflow::testing::max_fd_error([&] { return head.forward(z, y); }, z.data(), dz.data(), 3);
  EXPECT_LT(error, 1e-6);
}
