// Calibration statistics: every estimator on small hand-computed cases, the noise floor, and the
// bootstrap intervals (known values, pairing, and coverage on perfectly calibrated data).
#include <gtest/gtest.h>

#include <random>

#include <omp.h>

#include <chrono>
#include <cmath>

#include "gradflow/calibration/bootstrap.h"
#include "gradflow/calibration/estimators.h"
#include "gradflow/calibration/seeded_random.h"
#include "gradflow/errors.h"

using namespace gradflow;
using MatD = MatrixT<double>;

namespace {

// The hand example of test_calibration.cpp: (c, a) = (.9, 1), (.8, 0), (.7, 1), (.5, 0)
struct HandExample {
  MatD p{4, 2};
  Labels y{4};
  HandExample() {
    p << 0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.5, 0.5;
    y << 0, 1, 1, 1;
  }
};

TopLabel constant(double confidence, const std::vector<uint8_t>& correct) {
  return {std::vector<double>(correct.size(), confidence), correct};
}

}  // namespace

TEST(Estimators, TopLabelAndSignedEce) {
  HandExample h;
  const TopLabel top = top_label(h.p, h.y);
  EXPECT_EQ(top.correct, (std::vector<uint8_t>{1, 0, 1, 0}));
  // mean confidence 0.725 − accuracy 0.5: over-confident
  EXPECT_NEAR(signed_ece(top), 0.225, 1e-12);
}

TEST(Estimators, EqualMassBinsSplitTheSortedSamples) {
  HandExample h;
  const auto bins = equal_mass_bins(top_label(h.p, h.y), 2);
  // {.5 (wrong), .7 (right)} and {.8 (wrong), .9 (right)}
  ASSERT_EQ(bins.size(), 2u);
  EXPECT_EQ(bins[0].count, 2);
  EXPECT_NEAR(bins[0].confidence, 0.6, 1e-12);
  EXPECT_NEAR(bins[0].accuracy, 0.5, 1e-12);
  EXPECT_NEAR(bins[0].lower, 0.5, 1e-12);
  EXPECT_NEAR(bins[0].upper, 0.7, 1e-12);
  EXPECT_NEAR(bins[1].confidence, 0.85, 1e-12);
  // ECE = ½·0.1 + ½·0.35, MCE = 0.35
  EXPECT_NEAR(binned_ece(bins), 0.225, 1e-12);
  EXPECT_NEAR(binned_mce(bins), 0.35, 1e-12);
  // 5 samples in 2 bins: ⌊5/2⌋ = 2 in the first, 3 in the second
  EXPECT_EQ(equal_mass_bin_of({0.9, 0.1, 0.5, 0.3, 0.7}, 2), (std::vector<int>{1, 0, 1, 0, 1}));
}

TEST(Estimators, DebiasedEceTakesTheBinVarianceOff) {
  // one bin: ā = 1/4, c̄ = 0.9; (0.25 − 0.9)² − 0.25·0.75/3 = 0.4225 − 0.0625 = 0.36
  const DebiasedEce one = debiased_ece(constant(0.9, {1, 0, 0, 0}), 1);
  EXPECT_NEAR(one.squared, 0.36, 1e-12);
  EXPECT_NEAR(one.root, 0.6, 1e-12);
  // the hand example in 2 equal-mass bins: ½(0.01 − 0.25) + ½(0.1225 − 0.25) < 0, reported as 0
  HandExample h;
  const DebiasedEce two = debiased_ece(top_label(h.p, h.y), 2);
  EXPECT_NEAR(two.squared, -0.18375, 1e-12);
  EXPECT_EQ(two.root, 0.0);
}

TEST(Estimators, ClasswiseEceAveragesTheClasses) {
  HandExample h;
  // class 0: p = .9 .8 .3 .5 against 1 0 0 0: bins (0,.5] |0 − .8| + (.5,1] |1 − 1.7| -> 1.5/4
  // class 1: p = .1 .2 .7 .5 against 0 1 1 1: |2 − .8| + |1 − .7| -> 1.5/4
  EXPECT_NEAR(classwise_ece(h.p, h.y, 2), 0.375, 1e-12);
}

TEST(Estimators, SmoothEceOfAConstantResidualIsTheResidual) {
  // every sample at 0.8 and right: r̂ = 0.2·K(t, 0.8), whose integral is 0.2 at every bandwidth
  const TopLabel top = constant(0.8, std::vector<uint8_t>(10, 1));
  EXPECT_NEAR(smooth_ece(top, 0.05), 0.2, 1e-9);
  EXPECT_NEAR(smooth_ece(top, 0.5), 0.2, 1e-9);
  const SmoothEce fixed = smooth_ece(top);
  EXPECT_NEAR(fixed.value, 0.2, 1e-6);
  EXPECT_NEAR(fixed.bandwidth, 0.2, 1e-6);  // σ* = smECE_σ*
  // half right at 0.5: the residuals cancel
  EXPECT_NEAR(smooth_ece(constant(0.5, {1, 0, 1, 0})).value, 0.0, 1e-12);
}

TEST(Estimators, SmoothEceMatchesTheReflectedGaussianInClosedForm) {
  // (0.25, right) and (0.75, wrong): r̂ = 0.375·(K(t, .25) − K(t, .75)), positive below ½ by symmetry,
  // so smECE_σ = 0.75·(F(.25) − F(.75)) with F(c) = ∫_0^½ K(t, c) dt summed over the kernel's images
  const double sigma = 0.1;
  auto cdf = [&](double x) { return 0.5 * std::erfc(-x / (sigma * std::sqrt(2.0))); };
  auto mass_below_half = [&](double c) {
    double f = 0;
    for (int m = -3; m <= 3; ++m) {
      f += cdf(0.5 - c - 2 * m) - cdf(-c - 2 * m);  // the image at c + 2m
      f += cdf(0.5 + c - 2 * m) - cdf(c - 2 * m);   // the image at −c + 2m
    }
    return f;
  };
  const double expected = 0.75 * (mass_below_half(0.25) - mass_below_half(0.75));
  const TopLabel top{{0.25, 0.75}, {1, 0}};
  EXPECT_NEAR(smooth_ece(top, sigma), expected, 2e-3);
  // far apart with a narrow kernel: nothing cancels, smECE = mean |residual|
  EXPECT_NEAR(smooth_ece(top, 0.005), 0.75, 1e-6);
}

TEST(Estimators, NoiseFloorOfCertainPredictionsIsZero) {
  const NoiseFloors f = noise_floor(constant(1.0, {1, 1, 1}), 15, 0.0, 0.0, 200, 7);
  EXPECT_EQ(f.equal_width.mean, 0.0);
  EXPECT_EQ(f.equal_width.upper, 0.0);
  EXPECT_EQ(f.equal_width.p_value, 1.0);
}

TEST(Estimators, NoiseFloorOfTwoCoinFlips) {
  // two samples at 0.5 in one bin: ā ∈ {0, ½, 1} with probabilities ¼, ½, ¼ -> ECE 0.5, 0, 0.5: mean 0.25
  const NoiseFloors f = noise_floor(constant(0.5, {1, 0}), 15, 0.5, 0.5, 4000, 11);
  EXPECT_NEAR(f.equal_width.mean, 0.25, 0.02);
  EXPECT_EQ(f.equal_width.lower, 0.0);
  EXPECT_EQ(f.equal_width.upper, 0.5);
  // P(ECE ≥ 0.5) = ½
  EXPECT_NEAR(f.equal_width.p_value, 0.5, 0.03);
  const auto& band = f.equal_width.bands[static_cast<size_t>(equal_width_bin(0.5, 15))];
  ASSERT_TRUE(band.has_value());
  EXPECT_EQ(band->first, 0.0);
  EXPECT_EQ(band->second, 1.0);
  EXPECT_FALSE(f.equal_width.bands[14].has_value());  // an empty bin has no band
  // seeded: the same seed gives the same figures
  EXPECT_EQ(noise_floor(constant(0.5, {1, 0}), 15, 0.5, 0.5, 4000, 11).equal_width.mean, f.equal_width.mean);
}

TEST(Estimators, NoiseFloorMatchesTheIssueSimulationScale) {
  // 10,000 samples at 98.5% confidence: a calibrated model's 15-bin ECE is O(sqrt(c(1−c)/N)) ≈ 0.1%
  std::vector<uint8_t> correct(10000, 1);
  const NoiseFloors f = noise_floor(constant(0.985, correct), 15, 0.015, 0.015, 300, 3);
  const double sd = std::sqrt(0.985 * 0.015 / 10000.0);
  EXPECT_NEAR(f.equal_width.mean, sd * std::sqrt(2 / M_PI), 0.2 * sd);  // E|normal| = sd·sqrt(2/π)
  EXPECT_LT(f.equal_width.p_value, 0.01);  // 1.5% observed is far above the floor
}

TEST(Estimators, QuantileInterpolates) {
  std::vector<double> v{3, 1, 2, 4};
  EXPECT_DOUBLE_EQ(quantile(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile(v, 1.0), 4.0);
}

TEST(Estimators, SeededRandomIsUniformAndReproducible) {
  SeededRandom a(5, 1), b(5, 1), c(5, 2);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(a.next(), c.next());
  double sum = 0;
  for (int i = 0; i < 10000; ++i) sum += static_cast<double>(a.below(10));
  EXPECT_NEAR(sum / 10000, 4.5, 0.1);
}

TEST(Bootstrap, EstimatesAreTheFiguresOfAllSamples) {
  HandExample h;
  const SampleScores s = sample_scores(h.p, h.y, 2);
  const auto f = figures(s);
  EXPECT_NEAR(f[0], 0.5, 1e-12);                 // accuracy
  EXPECT_NEAR(f[2], (0.02 + 1.28 + 0.18 + 0.5) / 4, 1e-12);  // Brier
  EXPECT_NEAR(f[3], 0.225, 1e-12);               // ECE, as test_calibration's hand example
  EXPECT_NEAR(f[4], 0.5, 1e-12);                 // MCE
  EXPECT_NEAR(f[5], 0.225, 1e-12);               // equal-mass ECE, as Estimators.EqualMassBinsSplitTheSortedSamples
  EXPECT_EQ(f[6], 0.0);                          // debiased: the corrected square −0.18375 < 0
  // the debiased ECE of one bin: ā = 1/4, c̄ = 0.9 -> sqrt(0.36)
  MatD q(4, 2);
  q << 0.9, 0.1, 0.9, 0.1, 0.9, 0.1, 0.9, 0.1;
  Labels labels(4);
  labels << 0, 1, 1, 1;
  EXPECT_NEAR(figures(sample_scores(q, labels, 1))[6], 0.6, 1e-12);
  const BootstrapResult none = bootstrap({&s}, 0, 1);
  EXPECT_EQ(none.sets[0][3].estimate, f[3]);
  EXPECT_FALSE(none.sets[0][3].has_interval());
}

TEST(Bootstrap, NoResamplesNoIntervalsAndNoVerdicts) {
  HandExample h;
  const SampleScores before = sample_scores(h.p, h.y, 2);
  SampleScores after = before;
  for (double& nll : after.nll) nll -= 0.0011;
  const BootstrapResult b = bootstrap({&before, &after}, 0, 1);
  ASSERT_EQ(b.changes.size(), 1u);
  const Interval nll = b.changes[0][static_cast<size_t>(Figure::kNll)];
  EXPECT_NEAR(nll.estimate, -0.0011, 1e-12);
  EXPECT_FALSE(nll.has_interval());
  // before: "NLL improved: -0.0011 [-0.0011, -0.0011]" from a degenerate interval
  EXPECT_EQ(verdict(Figure::kNll, nll), "NLL: not tested: no bootstrap (-0.0011)");
  for (int m = 0; m < kFigures; ++m) {
    EXPECT_NE(verdict(static_cast<Figure>(m), b.changes[0][static_cast<size_t>(m)]).find("not tested"), std::string::npos);
  }
  EXPECT_TRUE(intervals_json(b.sets[0]).empty());
  const nlohmann::json changes = changes_json(b.changes[0]);
  EXPECT_TRUE(changes["nll"]["lower"].is_null());
  EXPECT_TRUE(changes["nll"]["upper"].is_null());
}

TEST(Bootstrap, TooFewResamplesAreRefused) {
  HandExample h;
  const SampleScores s = sample_scores(h.p, h.y, 2);
  for (int r : {1, 5, kMinimumResamples - 1}) EXPECT_THROW(bootstrap({&s}, r, 1), InputError) << r;
  EXPECT_NO_THROW(bootstrap({&s}, kMinimumResamples, 1));
}

TEST(Bootstrap, VerdictTakesDirectionFromTheIntervalNotTheEstimate) {
  // the estimate's sign disagrees with an interval that excludes 0: the interval decides
  EXPECT_EQ(verdict(Figure::kMce, {-0.0112, 0.0187, 0.0187}), "MCE worsened: -0.0112 [+0.0187, +0.0187]");
  EXPECT_EQ(verdict(Figure::kMce, {0.0112, -0.03, -0.01}), "MCE improved: +0.0112 [-0.0300, -0.0100]");
  EXPECT_EQ(verdict(Figure::kAccuracy, {-0.001, 0.002, 0.004}), "accuracy improved: -0.0010 [+0.0020, +0.0040]");
  EXPECT_EQ(verdict(Figure::kAccuracy, {0.001, -0.004, -0.002}), "accuracy worsened: +0.0010 [-0.0040, -0.0020]");
  EXPECT_EQ(verdict(Figure::kEce, {-0.01, -0.02, 0.001}), "ECE: no significant change (-0.0100 [-0.0200, +0.0010])");
}

TEST(Bootstrap, ChangesArePaired) {
  HandExample h;
  const SampleScores before = sample_scores(h.p, h.y, 2);
  SampleScores after = before;
  for (double& nll : after.nll) nll += 0.1;  // every sample 0.1 worse
  const BootstrapResult b = bootstrap({&before, &after}, 500, 3);
  ASSERT_EQ(b.changes.size(), 1u);
  const Interval nll = b.changes[0][static_cast<size_t>(Figure::kNll)];
  // paired: every resample sees the same +0.1; unpaired intervals would be wide on 4 samples
  EXPECT_NEAR(nll.lower, 0.1, 1e-12);
  EXPECT_NEAR(nll.upper, 0.1, 1e-12);
  EXPECT_GT(b.sets[0][static_cast<size_t>(Figure::kNll)].upper - b.sets[0][static_cast<size_t>(Figure::kNll)].lower, 0.5);
  EXPECT_EQ(verdict(Figure::kNll, nll), "NLL worsened: +0.1000 [+0.1000, +0.1000]");
  const Interval ece = b.changes[0][static_cast<size_t>(Figure::kEce)];
  EXPECT_EQ(ece.lower, 0.0);
  EXPECT_EQ(verdict(Figure::kEce, ece), "ECE: no significant change (+0.0000 [+0.0000, +0.0000])");
  EXPECT_EQ(verdict(Figure::kAccuracy, {0.01, 0.005, 0.02}), "accuracy improved: +0.0100 [+0.0050, +0.0200]");
  EXPECT_EQ(verdict(Figure::kNll, {-0.0011, -0.0019, -0.0004}), "NLL improved: -0.0011 [-0.0019, -0.0004]");
}

namespace {

// Binary predictions p = (q, 1 − q) with q ~ U(0, 1) and the label drawn from them: perfectly
// calibrated, with accuracy E max(q, 1 − q) = 3/4, NLL E H(q) = 1/2, Brier 2·E q(1 − q) = 1/3.
std::pair<MatD, Labels> calibrated_sample(int n, SeededRandom& random) {
  MatD p(n, 2);
  Labels y(n);
  for (int i = 0; i < n; ++i) {
    const double q = random.uniform();
    p(i, 0) = q;
    p(i, 1) = 1 - q;
    y[i] = random.uniform() < q ? 0 : 1;
  }
  return {p, y};
}

}  // namespace

TEST(Bootstrap, IntervalsCoverTheTrueValueNinetyFivePercentOfTheTime) {
  const double truth[3] = {0.75, 0.5, 1.0 / 3.0};  // accuracy, NLL, Brier
  const int repetitions = 200;
  int covered[3] = {0, 0, 0};
  SeededRandom random(2024);
  for (int rep = 0; rep < repetitions; ++rep) {
    const auto [p, y] = calibrated_sample(2000, random);
    const SampleScores s = sample_scores(p, y, 15);
    const BootstrapResult b = bootstrap({&s}, 200, static_cast<uint64_t>(rep));
    for (size_t m = 0; m < 3; ++m) covered[m] += b.sets[0][m].lower <= truth[m] && truth[m] <= b.sets[0][m].upper;
  }
  for (size_t m = 0; m < 3; ++m) {
    const double coverage = covered[m] / static_cast<double>(repetitions);
    EXPECT_GE(coverage, 0.88) << figure_name(static_cast<Figure>(m));
    EXPECT_LE(coverage, 0.99) << figure_name(static_cast<Figure>(m));
    std::printf("%s: coverage %.3f\n", figure_name(static_cast<Figure>(m)), coverage);
  }
}

TEST(Bootstrap, SameSeedSameIntervalsWhateverTheThreads) {
  SeededRandom random(9);
  const auto [p, y] = calibrated_sample(500, random);
  const SampleScores s = sample_scores(p, y, 15);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const BootstrapResult one = bootstrap({&s}, 100, 5);
  omp_set_num_threads(2);
  const BootstrapResult two = bootstrap({&s}, 100, 5);
  omp_set_num_threads(threads);
  for (size_t m = 0; m < kFigures; ++m) {
    EXPECT_EQ(one.sets[0][m].lower, two.sets[0][m].lower);
    EXPECT_EQ(one.sets[0][m].upper, two.sets[0][m].upper);
  }
  EXPECT_NE(bootstrap({&s}, 100, 6).sets[0][1].lower, one.sets[0][1].lower);
}

TEST(Bootstrap, TenThousandSamplesAThousandResamplesTwoSetsOnOneThreadIsQuick) {
  SeededRandom random(1);
  const auto [p, y] = calibrated_sample(10000, random);
  const SampleScores before = sample_scores(p, y, 15), after = sample_scores(p, y, 15);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto start = std::chrono::steady_clock::now();
  bootstrap({&before, &after}, 1000, 1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  omp_set_num_threads(threads);
  std::printf("N = 10000, 1000 resamples, before and after, one thread: %.3f s\n", seconds);
  EXPECT_LT(seconds, 3.0);
}

TEST(Bootstrap, EceIntervalIsBasicAndTakesTheResamplingBiasOff) {
  // Perfectly calibrated predictions: the population's binned ECE is 0, the sample ECE is biased
  // upward, and a resample's more so, so every resampled ECE exceeds 0 and a percentile interval
  // [q_2.5, q_97.5] never holds the truth. The basic interval [2θ̂ − q_97.5, 2θ̂ − q_2.5] (clamped
  // at 0) subtracts the bias: it lies lower than the percentile one, centred below the estimate.
  const int repetitions = 40;
  int covered = 0, centred_below = 0;
  SeededRandom random(77);
  for (int rep = 0; rep < repetitions; ++rep) {
    const auto [p, y] = calibrated_sample(2000, random);
    const SampleScores s = sample_scores(p, y, 15);
    const Interval ece = bootstrap({&s}, 200, static_cast<uint64_t>(rep)).sets[0][static_cast<size_t>(Figure::kEce)];
    ASSERT_TRUE(ece.has_interval());
    EXPECT_GE(ece.lower, 0.0);
    EXPECT_LE(ece.lower, ece.upper);
    covered += ece.lower <= 0.0;
    centred_below += (ece.lower + ece.upper) / 2 < ece.estimate;
  }
  std::printf("ECE of a calibrated model: basic interval holds 0 in %d of %d, centred below the estimate in %d\n", covered,
              repetitions, centred_below);
  EXPECT_GE(centred_below, repetitions * 3 / 4);
  EXPECT_GE(covered, repetitions / 4);
}

TEST(Bootstrap, IntervalsStayWithinWhatTheFigureCanBe) {
  // 12 samples whose MCE swings between bins on resamples: the basic interval 2θ̂ − q would
  // leave [0, 1] for the figures bounded by 1, and [−1, 1] for their changes, without the clamp
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.5, 1.0);
  MatD p(12, 2), q(12, 2);
  Labels y(12);
  for (int i = 0; i < 12; ++i) {
    const double a = u(rng), b = u(rng);
    p.row(i) << a, 1 - a;
    q.row(i) << b, 1 - b;
    y[i] = i % 3 == 0 ? 1 : 0;
  }
  const SampleScores before = sample_scores(p, y, 15), after = sample_scores(q, y, 15);
  const BootstrapResult r = bootstrap({&before, &after}, 200, 7);
  for (int m = 0; m < kFigures; ++m) {
    const auto f = static_cast<Figure>(m);
    const double maximum = f == Figure::kNll ? 1e300 : f == Figure::kBrier ? 2.0 : 1.0;
    for (const auto& set : r.sets) {
      EXPECT_GE(set[static_cast<size_t>(m)].lower, 0.0) << figure_name(f);
      EXPECT_LE(set[static_cast<size_t>(m)].upper, maximum) << figure_name(f);
    }
    EXPECT_GE(r.changes[0][static_cast<size_t>(m)].lower, -maximum) << figure_name(f);
    EXPECT_LE(r.changes[0][static_cast<size_t>(m)].upper, maximum) << figure_name(f);
  }
}
