// The fused softmax-cross-entropy head: known values, gradient = (softmax - onehot) / (B T),
// finite differences in double, and stability at extreme logits; and the one softmax and
// log-sum-exp (softmax.h) the head and the calibration code share.
#include <gtest/gtest.h>

#include <cmath>

#include "gradflow/errors.h"
#include "gradflow/softmax.h"
#include "gradflow/softmax_cross_entropy.h"
#include "gradient_check.h"

using namespace gradflow;
using gradflow::testing::MatD;

TEST(Softmax, KnownValuesAtATemperature) {
  Eigen::RowVector3d z(1, 2, 4);
  Eigen::RowVector3d p = Eigen::RowVector3d::Zero();  // an output: softmax writes it
  const LogSumExp<double> r = softmax(z, 0.5, p);  // T = 2
  const double s = std::exp(-1.5) + std::exp(-1.0) + 1.0;
  EXPECT_NEAR(p[0], std::exp(-1.5) / s, 1e-15);
  EXPECT_NEAR(p[2], 1.0 / s, 1e-15);
  EXPECT_NEAR(p.sum(), 1.0, 1e-15);
  EXPECT_EQ(r.max, 4.0);
  EXPECT_EQ(r.argmax, 2);
  EXPECT_NEAR(r.log_sum, std::log(s), 1e-15);
  // logsumexp(z/T) = m/T + log s
  EXPECT_NEAR(4.0 * 0.5 + r.log_sum, std::log(std::exp(0.5) + std::exp(1.0) + std::exp(2.0)), 1e-14);
  const LogSumExp<double> alone = log_sum_exp(z, 0.5);  // the same without storing p
  EXPECT_EQ(alone.max, r.max);
  EXPECT_EQ(alone.argmax, r.argmax);
  EXPECT_NEAR(alone.log_sum, r.log_sum, 1e-15);
}

TEST(Softmax, NoOverflowAtHugeLogits) {
  // exp(1000) overflows even a double; with the max subtracted every exponent is <= 0
  Eigen::RowVector2f z(1000.0f, 1000.0f - 30.0f);
  Eigen::RowVector2f p = Eigen::RowVector2f::Zero();
  const LogSumExp<float> r = softmax(z, 1.0f, p);
  EXPECT_TRUE(p.allFinite());
  EXPECT_FLOAT_EQ(p[1], std::exp(-30.0f) / (1.0f + std::exp(-30.0f)));
  // the loss of class 1: log s + (m − z_1)·u = log(1 + e^−30) + 30
  EXPECT_NEAR(r.log_sum + (r.max - z[1]), 30.0, 1e-6);
  EXPECT_TRUE(std::isfinite(log_sum_exp(z, 1.0f).log_sum));
}

TEST(SoftmaxCrossEntropy, KnownValues) {
  SoftmaxCrossEntropy<double> head;
  MatD z(2, 3);
  z << 1, 2, 3, 0, 0, 0;
  Labels y(2);
  y << 2, 0;
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double expected = ((lse - 3.0) + std::log(3.0)) / 2.0;
  EXPECT_NEAR(head.forward(z, y), expected, 1e-12);
  EXPECT_NEAR(head.probabilities()(0, 2), std::exp(3.0 - lse), 1e-12);
  EXPECT_NEAR(head.probabilities()(1, 1), 1.0 / 3.0, 1e-12);
  EXPECT_EQ(head.correct(), 2);  // argmax 2 == 2, and ties pick class 0 == 0

  MatD dz;
  head.backward(dz);
  // (softmax - onehot) / B
  EXPECT_NEAR(dz(0, 2), (std::exp(3.0 - lse) - 1.0) / 2.0, 1e-12);
  EXPECT_NEAR(dz(1, 0), (1.0 / 3.0 - 1.0) / 2.0, 1e-12);
  EXPECT_NEAR(dz(1, 1), (1.0 / 3.0) / 2.0, 1e-12);
  for (int b = 0; b < 2; ++b) EXPECT_NEAR(dz.row(b).sum(), 0.0, 1e-15);
}

TEST(SoftmaxCrossEntropy, TemperatureDividesLogits) {
  SoftmaxCrossEntropy<double> hot(2.0), plain;
  MatD z(1, 3);
  z << 1, -2, 4;
  Labels y(1);
  y << 0;
  EXPECT_NEAR(hot.forward(z, y), plain.forward(z / 2.0, y), 1e-12);
}

class HeadGradient : public ::testing::TestWithParam<double> {};

TEST_P(HeadGradient, MatchesFiniteDifferences) {
  SoftmaxCrossEntropy<double> head(GetParam());
  std::srand(21);
  MatD z = MatD::Random(5, 4) * 3.0;
  Labels y(5);
  y << 0, 3, 1, 2, 3;
  head.forward(z, y);
  MatD dz;
  head.backward(dz);
  const double error =
      gradflow::testing::max_fd_error([&] { return head.forward(z, y); }, z.data(), dz.data(), z.size());
  EXPECT_LT(error, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Temperatures, HeadGradient, ::testing::Values(1.0, 0.5, 2.5));

namespace {
// Loss must be finite, >= 0 and not -0 (signbit), and the gradient finite.
void expect_stable(const Matrix& z, const Labels& y) {
  SoftmaxCrossEntropy<float> head;
  const double loss = head.forward(z, y);
  EXPECT_TRUE(std::isfinite(loss)) << loss;
  EXPECT_GE(loss, 0.0);
  EXPECT_FALSE(std::signbit(loss)) << "loss is -0";
  for (Eigen::Index b = 0; b < z.rows(); ++b) {
    EXPECT_TRUE(std::isfinite(head.sample_losses()[b]));
    EXPECT_FALSE(std::signbit(head.sample_losses()[b]));
  }
  Matrix dz;
  head.backward(dz);
  EXPECT_TRUE(dz.allFinite());
}
}  // namespace

TEST(SoftmaxCrossEntropyStability, HugeLogits) {
  Matrix z(2, 3);
  z << 1e4f, -1e4f, 0, -1e4f, -1e4f, 1e4f;
  Labels y(2);
  y << 0, 0;
  expect_stable(z, y);
  SoftmaxCrossEntropy<float> head;
  head.forward(z, y);
  EXPECT_NEAR(head.sample_losses()[0], 0.0, 1e-6);   // right with a huge margin
  EXPECT_NEAR(head.sample_losses()[1], 2e4, 1.0);    // wrong with a huge margin: z_max - z_y
}

TEST(SoftmaxCrossEntropyStability, AllEqualLogits) {
  Matrix z = Matrix::Constant(2, 10, 7.5f);
  Labels y(2);
  y << 3, 9;
  expect_stable(z, y);
  SoftmaxCrossEntropy<float> head;
  EXPECT_NEAR(head.forward(z, y), std::log(10.0), 1e-6);
}

TEST(SoftmaxCrossEntropyStability, GapWhereFloatSoftmaxRoundsToOne) {
  Matrix z(1, 2);
  z << 20, 0;
  Labels y(1);
  y << 0;
  SoftmaxCrossEntropy<float> head;
  head.forward(z, y);
  ASSERT_EQ(head.probabilities()(0, 0), 1.0f);  // float softmax really rounds to 1 here
  expect_stable(z, y);
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOutOfRange) {
  SoftmaxCrossEntropy<float> head;
  Matrix z = Matrix::Zero(1, 3);
  Labels y(1);
  y << 3;
  EXPECT_THROW(head.forward(z, y), InputError);
  EXPECT_THROW(SoftmaxCrossEntropy<float>(0.0), InputError);
}
