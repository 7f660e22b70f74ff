// training.mixup: the blend of a batch with its shuffled copy and the head's mixed target against
// hand-computed numbers (with label smoothing too), finite differences of the mixed loss in
// double (at the logits and through a model's parameters), the Beta(α, α) draws' statistics, the
// permutation, the config's checks and a run. Resuming bit-identically: Resume.* in
// test_faults.cpp; N data-parallel ranks against one process: test_distributed.cpp; no
// allocation in a mixed step: test_alloc.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "gradflow/config.h"
#include "gradflow/errors.h"
#include "gradflow/train.h"
#include "gradflow/train/adversarial.h"
#include "gradflow/train/mixup.h"
#include "gradient_check.h"
#include "test_cli.h"
#include "test_configs.h"
#include "test_files.h"

using namespace gradflow;
using namespace gradflow::testing;
using nlohmann::json;

namespace {
// The rows of `x` in the order `rows` gives: x[π]
template <typename M, typename V>
M rows_of(const M& x, const V& rows) {
  M out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (size_t r = 0; r < rows.size(); ++r) out.row(static_cast<Eigen::Index>(r)) = x.row(static_cast<Eigen::Index>(rows[r]));
  return out;
}

Dataset numbered_dataset(int64_t samples, int64_t features, int classes) {
  Dataset data;
  data.images.resize(samples, features);
  data.labels.resize(samples);
  for (int64_t s = 0; s < samples; ++s) {
    for (int64_t f = 0; f < features; ++f) data.images(s, f) = static_cast<float>(s) + 0.01f * static_cast<float>(f);
    data.labels[s] = static_cast<int>(s % classes);
  }
  return data;
}
}  // namespace

// x̃ = λ·x + (1 − λ)·x[π], by hand: λ = 0.7, π = (2, 0, 1)
TEST(MixupBatch, BlendKnownValues) {
  Matrix x(3, 2);
  x << 1, 2, 3, 4, 5, 6;
  const Matrix partner = rows_of(x, std::vector<int>{2, 0, 1});
  Mixup::blend(0.7, partner, x);
  Matrix expected(3, 2);
  expected << 0.7f * 1 + 0.3f * 5, 0.7f * 2 + 0.3f * 6,  // row 0 with row 2
      0.7f * 3 + 0.3f * 1, 0.7f * 4 + 0.3f * 2,          // row 1 with row 0
      0.7f * 5 + 0.3f * 3, 0.7f * 6 + 0.3f * 4;          // row 2 with row 1
  for (Eigen::Index i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(x.data()[i], expected.data()[i]) << i;
  EXPECT_FLOAT_EQ(x(0, 0), 2.2f);
  EXPECT_FLOAT_EQ(x(2, 1), 5.4f);
}

// mix() draws λ and π for the whole batch, gathers the partners of the rows x holds and blends
// them; a slice of the batch (a data-parallel rank's rows) gets exactly those rows of the whole mix.
TEST(MixupBatch, MixesABatchWithItsPartnersAndASliceWithTheSameOnes) {
  const Dataset data = numbered_dataset(20, 3, 4);
  std::mt19937_64 rng(2);
  Batcher batcher(data, 8, rng);
  batcher.shuffle();
  Matrix x, slice, original;
  Labels y, slice_labels;
  batcher.gather(1, original, y);
  x = original;
  Mixup whole({0.4}, 11), part({0.4}, 11);
  whole.mix(batcher, 1, 0, 8, x);
  const std::vector<int64_t>& pi = whole.permutation();
  ASSERT_EQ(pi.size(), 8u);
  std::vector<int64_t> sorted = pi;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t r = 0; r < 8; ++r) EXPECT_EQ(sorted[size_t(r)], r) << "π is a permutation";
  const double lambda = whole.lambda();
  EXPECT_GE(lambda, 0.0);
  EXPECT_LE(lambda, 1.0);
  Matrix expected = original;
  Mixup::blend(lambda, rows_of(original, pi), expected);
  EXPECT_EQ(x, expected);
  const LabelMix mix = whole.labels();
  ASSERT_TRUE(mix.mixed());
  EXPECT_EQ(mix.weight, lambda);
  for (int64_t r = 0; r < 8; ++r) EXPECT_EQ((*mix.partner)[r], y[pi[size_t(r)]]) << r;

  batcher.gather(1, slice, slice_labels, 3, 6);
  part.mix(batcher, 1, 3, 6, slice);
  EXPECT_EQ(part.lambda(), lambda);
  EXPECT_EQ(part.permutation(), pi);
  EXPECT_EQ(slice, x.middleRows(3, 3));
  EXPECT_EQ(*part.labels().partner, mix.partner->segment(3, 3));
  // the last, smaller batch: π over its 4 rows
  Matrix last;
  batcher.gather(2, last, y);
  whole.mix(batcher, 2, 0, 4, last);
  EXPECT_EQ(whole.permutation().size(), 4u);
}

// λ·CE(z, y) + (1 − λ)·CE(z, y') and its gradient (softmax(z) − (λ·onehot(y) + (1 − λ)·onehot(y'))) / B,
// by hand: z = [[1, 2, 3], [0, 1, 0]], y = (2, 0), y' = (2, 1), λ = 0.7
TEST(MixupHead, KnownValues) {
  SoftmaxCrossEntropy<double> head;
  MatD z(2, 3);
  z << 1, 2, 3, 0, 1, 0;
  Labels y(2), partner(2);
  y << 2, 0;
  partner << 2, 1;
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double lse1 = std::log(2.0 + std::exp(1.0));
  // row 0: both labels 2; row 1: 0.7·(lse1 − 0) + 0.3·(lse1 − 1)
  const double expected = ((lse0 - 3.0) + (lse1 - 0.3)) / 2.0;
  EXPECT_NEAR(head.forward(z, y, {&partner, 0.7}), expected, 1e-12);
  EXPECT_NEAR(head.sample_losses()[1], 0.7 * lse1 + 0.3 * (lse1 - 1.0), 1e-12);
  EXPECT_EQ(head.correct(), 1) << "λ 0.7: row 0 predicts 2 = y, row 1 predicts 1 ≠ y = 0";

  MatD dz;
  head.backward(dz);
  const double p0[3] = {std::exp(1.0 - lse0), std::exp(2.0 - lse0), std::exp(3.0 - lse0)};
  const double p1[3] = {std::exp(-lse1), std::exp(1.0 - lse1), std::exp(-lse1)};
  const double q1[3] = {0.7, 0.3, 0.0};
  EXPECT_NEAR(dz(0, 0), p0[0] / 2.0, 1e-12);
  EXPECT_NEAR(dz(0, 2), (p0[2] - 1.0) / 2.0, 1e-12);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(dz(1, k), (p1[k] - q1[k]) / 2.0, 1e-12) << k;
  EXPECT_NEAR((head.targets().row(1) - Eigen::RowVector3d(0.7, 0.3, 0.0)).cwiseAbs().maxCoeff(), 0.0, 1e-15);

  // λ 0.3: y' weighs more, and row 1 predicts it
  head.forward(z, y, {&partner, 0.3});
  EXPECT_EQ(head.correct(), 2);
  // λ 0.5: a tie counts y
  head.forward(z, y, {&partner, 0.5});
  EXPECT_EQ(head.correct(), 1);
}

// With label smoothing e the target is (1 − e)·(λ·onehot(y) + (1 − λ)·onehot(y')) + e/C, and the
// loss the blend of the two smoothed losses.
TEST(MixupHead, KnownValuesWithLabelSmoothing) {
  const double e = 0.1, lambda = 0.6;
  SoftmaxCrossEntropy<double> head(1.0, e);
  MatD z(1, 3);
  z << 0.5, -1, 2;
  Labels y(1), partner(1);
  y << 0;
  partner << 1;
  const double lse = std::log(std::exp(0.5) + std::exp(-1.0) + std::exp(2.0));
  const double q[3] = {0.9 * 0.6 + 0.1 / 3, 0.9 * 0.4 + 0.1 / 3, 0.1 / 3};
  const double expected = lse - (q[0] * 0.5 + q[1] * -1.0 + q[2] * 2.0);
  EXPECT_NEAR(head.forward(z, y, {&partner, lambda}), expected, 1e-12);
  MatD dz;
  head.backward(dz);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(dz(0, k), std::exp(z(0, k) - lse) - q[k], 1e-12) << k;
  // the same as λ·(the smoothed loss of y) + (1 − λ)·(that of y')
  SoftmaxCrossEntropy<double> plain(1.0, e);
  const double blended = lambda * plain.forward(z, y) + (1 - lambda) * plain.forward(z, partner);
  EXPECT_NEAR(head.forward(z, y, {&partner, lambda}), blended, 1e-12);
}

// λ = 1 is the plain head, bit for bit; bad second labels are refused.
TEST(MixupHead, WeightOneIsThePlainHeadAndBadPartnersAreRefused) {
  SoftmaxCrossEntropy<float> mixed(1.5, 0.05), plain(1.5, 0.05);
  std::srand(4);
  const Matrix z = Matrix::Random(6, 4) * 3.0f;
  Labels y(6), partner(6);
  y << 0, 1, 2, 3, 0, 1;
  partner << 3, 3, 0, 1, 2, 2;
  EXPECT_EQ(mixed.forward(z, y, {&partner, 1.0}), plain.forward(z, y));
  Matrix a, b;
  mixed.backward(a);
  plain.backward(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(mixed.correct(), plain.correct());
  Labels outside = partner;
  outside[2] = 4;
  EXPECT_THROW(mixed.forward(z, y, {&outside, 0.5}), InputError);
  const Labels short_partner = partner.head(5);
  EXPECT_THROW(mixed.forward(z, y, {&short_partner, 0.5}), InputError);
  EXPECT_THROW(mixed.forward(z, y, {&partner, 1.5}), InputError);
}

// (temperature, label smoothing, λ)
class MixupHeadGradient : public ::testing::TestWithParam<std::tuple<double, double, double>> {};

TEST_P(MixupHeadGradient, MatchesFiniteDifferences) {
  const auto [temperature, smoothing, lambda] = GetParam();
  SoftmaxCrossEntropy<double> head(temperature, smoothing);
  std::srand(21);
  MatD z = MatD::Random(5, 4) * 3.0;
  Labels y(5), partner(5);
  y << 0, 3, 1, 2, 3;
  partner << 2, 3, 0, 0, 1;
  const LabelMix mix{&partner, lambda};
  head.forward(z, y, mix);
  MatD dz;
  head.backward(dz);
  EXPECT_LT(max_fd_error([&] { return head.forward(z, y, mix); }, z.data(), dz.data(), z.size()), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Targets, MixupHeadGradient,
                         ::testing::Values(std::make_tuple(1.0, 0.0, 0.7), std::make_tuple(1.0, 0.1, 0.3),
                                           std::make_tuple(2.5, 0.2, 0.55), std::make_tuple(0.5, 0.0, 0.05)));

// The mixed loss of a model on a mixed batch: every parameter's gradient against central
// differences, in double.
TEST(MixupGradient, ThroughAModelsParametersMatchesFiniteDifferences) {
  Sequential<double> model(resolve_model_spec(
      {{"input", 5},
       {"layers", {{{"type", "dense"}, {"units", 6}}, {{"type", "tanh"}}, {{"type", "dense"}, {"units", 3}}}},
       {"head", {{"type", "softmax_cross_entropy"}, {"label_smoothing", 0.1}}}}));
  std::mt19937_64 rng(8);
  model.initialize(rng);
  std::srand(9);
  MatD x = MatD::Random(6, 5);
  Labels y(6);
  y << 0, 1, 2, 0, 1, 2;
  const std::vector<int> pi{3, 5, 0, 1, 4, 2};
  const MatD partner = rows_of(x, pi);
  const double lambda = 0.35;
  x = lambda * x + (1 - lambda) * partner;
  Labels partner_labels(6);
  for (int r = 0; r < 6; ++r) partner_labels[r] = y[pi[size_t(r)]];
  const LabelMix mix{&partner_labels, lambda};
  model.forward_loss(x, y, mix);
  model.backward();
  const Eigen::VectorXd analytic = model.gradient_block();
  auto parameters = model.parameter_block();
  const double error = max_fd_error([&] { return model.forward_loss(x, y, mix); }, parameters.data(), analytic.data(),
                                    parameters.size());
  EXPECT_LT(error, 1e-6);
  EXPECT_GT(analytic.norm(), 1e-3) << "a gradient to check";
}

// λ ~ Beta(α, α): mean 1/2, variance 1/(4(2α + 1)); each within 5 standard errors of the sample
// mean and variance over n draws (the variance's from Beta's fourth moment: its excess kurtosis is
// −6/(2α + 3) when both shapes are α).
TEST(MixupBeta, MeanAndVarianceMatchBeta) {
  constexpr int n = 20000;
  for (const double alpha : {0.2, 1.0, 4.0}) {
    MersenneTwister64 rng(17);
    std::vector<double> draws(n);
    for (double& d : draws) d = Mixup::draw_beta(alpha, rng);
    for (const double d : draws) ASSERT_TRUE(d >= 0.0 && d <= 1.0) << d;
    const double mean = std::accumulate(draws.begin(), draws.end(), 0.0) / n;
    double squares = 0;
    for (const double d : draws) squares += (d - mean) * (d - mean);
    const double variance = squares / (n - 1);
    const double sigma2 = 1.0 / (4.0 * (2.0 * alpha + 1.0));
    const double mu4 = sigma2 * sigma2 * (3.0 - 6.0 / (2.0 * alpha + 3.0));
    EXPECT_NEAR(mean, 0.5, 5.0 * std::sqrt(sigma2 / n)) << "α " << alpha;
    EXPECT_NEAR(variance, sigma2, 5.0 * std::sqrt((mu4 - sigma2 * sigma2) / n)) << "α " << alpha;
  }
}

// At α = 0.005 both gammas are often below the smallest double; drawn in logs, λ stays a number,
// nearly always close to 0 or 1 (the mass of Beta(α, α) in [0.01, 0.99] is about 2α·ln 99 ≈ 0.05).
TEST(MixupBeta, TinyAlphaGivesNumbersAtTheEnds) {
  MersenneTwister64 rng(5);
  int ends = 0, low = 0;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double d = Mixup::draw_beta(0.005, rng);
    ASSERT_TRUE(d >= 0.0 && d <= 1.0) << d;
    ends += d < 0.01 || d > 0.99;
    low += d < 0.5;
  }
  EXPECT_GT(ends, 0.9 * n);
  EXPECT_NEAR(low, n / 2, 5 * std::sqrt(n / 4.0));  // symmetric
}

// π's partner for a row is uniform over the rows: over 5000 draws of 5 rows, each row partners
// row 0 about 1000 times (binomial standard deviation 28; 5 of them allowed).
TEST(MixupPermutation, IsUniform) {
  Mixup mixup({1.0}, 3);
  std::vector<int> partners_of_first(5, 0);
  for (int i = 0; i < 5000; ++i) {
    mixup.draw(5);
    ++partners_of_first[size_t(mixup.permutation()[0])];
  }
  for (int k = 0; k < 5; ++k) EXPECT_NEAR(partners_of_first[size_t(k)], 1000, 5 * std::sqrt(5000 * 0.2 * 0.8)) << k;
  // another seed, other draws; the state carries them on exactly
  Mixup other({1.0}, 4), copy({1.0}, 4);
  other.draw(8);
  copy.set_random_state(other.random_state());
  other.draw(8);
  copy.draw(8);
  EXPECT_EQ(other.lambda(), copy.lambda());
  EXPECT_EQ(other.permutation(), copy.permutation());
  EXPECT_THROW(copy.set_random_state("not a state"), InputError);
}

TEST(MixupConfig, IsOffByDefaultCheckedAndWrittenBack) {
  const json model{{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}};
  EXPECT_FALSE(parse_config({{"model", model}}).training.mixup.enabled());
  EXPECT_FALSE(parse_config({{"model", model}}).to_json()["training"].contains("mixup"));
  EXPECT_FALSE(parse_config({{"model", model}, {"training", {{"mixup", nullptr}}}}).training.mixup.enabled());
  const Config c = parse_config({{"model", model}, {"training", {{"mixup", {{"alpha", 0.2}}}}}});
  EXPECT_EQ(c.training.mixup.alpha, 0.2);
  EXPECT_EQ(c.to_json()["training"]["mixup"], json({{"alpha", 0.2}}));
  EXPECT_EQ(parse_config(c.to_json()).to_json(), c.to_json());
  // --set training.mixup.alpha=0.4 makes the object; training.mixup=null removes it
  json root{{"model", model}};
  apply_override(root, "training.mixup.alpha=0.4");
  EXPECT_EQ(parse_config(root).training.mixup.alpha, 0.4);
  apply_override(root, "training.mixup=null");
  EXPECT_FALSE(parse_config(root).training.mixup.enabled());

  expect_training_option_errors("mixup", {{json::object(), "/training/mixup/alpha"},
                                          {json{{"alpha", 0}}, "/training/mixup/alpha"},
                                          {json{{"alpha", -0.2}}, "/training/mixup/alpha"},
                                          {json{{"alpha", "0.2"}}, "/training/mixup/alpha"},
                                          {json{{"alpha", nullptr}}, "/training/mixup/alpha"},
                                          {json{{"alpha", 0.2}, {"beta", 0.2}}, "/training/mixup/beta"},
                                          {json(0.2), "/training/mixup"}});
}

// The command line's message is one line naming the path.
TEST(MixupConfig, TheCommandLineNamesThePath) {
  const std::string dir = temp_dir("mixup_cli");
  const json config{{"model", {{"input", 4}, {"layers", {{{"type", "dense"}, {"units", 2}}}}}}};
  std::ofstream(dir + "/c.json") << config.dump();
  const CliRun r = run_cli("train --config " + dir + "/c.json --out " + dir + "/run --set training.mixup.alpha=0");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "gradflow: error: config error at /training/mixup/alpha: expected a number > 0, got 0\n");
}

// With adversarial training too, the step perturbs the mixed batch along the sign of the mixed
// loss's input gradient: the perturbation the mixed target gives differs from the plain one's.
TEST(MixupAdversarial, ThePerturbationFollowsTheMixedLoss) {
  Sequential<float> model(resolve_model_spec(
      {{"input", 5}, {"layers", {{{"type", "dense"}, {"units", 4}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 3}}}}}));
  std::mt19937_64 rng(5);
  model.initialize(rng);
  std::srand(3);
  const Matrix x = Matrix::Random(6, 5);
  Labels y(6), partner(6);
  y << 0, 1, 2, 0, 1, 2;
  partner << 1, 2, 0, 2, 0, 1;
  const LabelMix mix{&partner, 0.4};
  Matrix dx;
  model.forward_loss(x, y, mix);
  model.backward(&dx);
  AdversarialStep mixed({0.1, 0.5}), plain({0.1, 0.5});
  int64_t correct = -1;
  const double loss = mixed.forward_backward(model, x, y, &correct, mix);
  plain.forward_backward(model, x, y, nullptr);
  EXPECT_DOUBLE_EQ(loss, model.forward_loss(x, y, mix)) << "the clean pass's mixed loss";
  EXPECT_EQ(correct, model.head().correct());
  const Matrix expected = x + 0.1f * dx.unaryExpr([](float g) { return float((g > 0.0f) - (g < 0.0f)); });
  EXPECT_EQ(mixed.perturbed(), expected);
  EXPECT_NE(mixed.perturbed(), plain.perturbed());
}

// A short run trains with mixup (its logged loss, the mixed one, falls; the model learns), and
// ends elsewhere than the same run without it; with adversarial training as well it trains too.
TEST(MixupRun, TrainsAndEndsElsewhere) {
  const std::string data = write_separable_dataset("mixup_data", 400, 60);
  json spec = separable_config(data, 3);
  spec["training"]["mixup"] = {{"alpha", 0.4}};
  spec["calibration"] = {{"method", "none"}};
  const std::string run = temp_dir("mixup_run");
  const TrainSummary with = train(parse_config(spec), run);
  std::ifstream metrics(run + "/metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(metrics, line);) losses.push_back(json::parse(line)["train_loss"].get<double>());
  ASSERT_EQ(losses.size(), 3u);
  EXPECT_LT(losses.back(), losses.front());
  EXPECT_GT(with.test.accuracy, 0.9);
  EXPECT_GT(with.last_epoch.train_accuracy, 0.8);
  EXPECT_EQ(json::parse(read_all(run + "/config.json"))["training"]["mixup"], json({{"alpha", 0.4}}));

  spec["training"].erase("mixup");
  const TrainSummary without = train(parse_config(spec), temp_dir("mixup_plain"));
  EXPECT_NE(with.last_epoch.train_loss, without.last_epoch.train_loss);
  EXPECT_GT(with.last_epoch.train_loss, without.last_epoch.train_loss) << "the mixed targets are harder to fit";

  spec["training"]["mixup"] = {{"alpha", 0.4}};
  spec["training"]["adversarial"] = {{"epsilon", 0.2}};
  const TrainSummary both = train(parse_config(spec), temp_dir("mixup_adversarial"));
  EXPECT_GT(both.test.accuracy, 0.9);
}
