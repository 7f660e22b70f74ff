#pragma once
// Basic bootstrap intervals for the test figures (accuracy, NLL, Brier, ECE, MCE, and the
// equal-mass and debiased ECE) of one or
// more sets of predictions on the same samples, and *paired* intervals for their differences:
// every resample draws N indices with replacement once and evaluates every set on them, so the
// interval of (after − before) reflects only how the two differ on the same images.
//
// Each sample's contribution is computed once (whether it is right, −log p_y, its Brier term,
// its top-label confidence and its equal-width and equal-mass bins), so one resample is O(N + bins) per set.
// Resample r draws from its own stream SeededRandom(seed, r): the figures depend on the seed
// and the number of resamples, never on the number of threads. The interval is the basic
// (reverse-percentile) interval [2θ̂ − q_97.5, 2θ̂ − q_2.5] from the quantiles q of the resampled
// figures, a figure's clamped to its range (≥ 0, accuracy ≤ 1). Binned ECE and MCE are biased
// upward on finite samples (see the noise floor in estimators.h) and more so on a resample; the
// percentile interval [q_2.5, q_97.5] adds that bias once more, the basic interval subtracts it
// (to first order), so it can lie below the estimate itself: it is an interval for the figure
// of the population, of which the estimate is an upward-biased value. The MCE of a sparse bin
// is a maximum, for which the bootstrap is known to be unreliable.
#include <array>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradflow/tensor.h"

namespace gradflow {

// The figures, the last two from estimators.h: the equal-mass ECE and the debiased (L2) ECE, on
// the equal-mass bins of all samples (a resample keeps each sample's bin: the intervals are
// conditional on that partition).
enum class Figure { kAccuracy = 0, kNll, kBrier, kEce, kMce, kEqualMassEce, kDebiasedEce };
inline constexpr int kFigures = 7;
const char* figure_key(Figure f);   // "accuracy", "nll", ..., "equal_mass_ece", "debiased_ece": the JSON keys
const char* figure_name(Figure f);  // "accuracy", "NLL", "Brier", "ECE", "MCE", "equal-mass ECE", "debiased ECE"
bool higher_is_better(Figure f);    // accuracy only

// What each sample contributes to the figures of one set of predictions.
struct SampleScores {
  int bins = 15;
  std::vector<uint8_t> correct;
  std::vector<double> nll, brier, confidence;
  std::vector<int> bin;       // equal-width bin of the confidence
  std::vector<int> mass_bin;  // equal-mass bin of the confidence among all samples
};
// probabilities: (N, C); nll: (N) −log p_y when the caller has it exactly (from logits), else empty
SampleScores sample_scores(const MatrixT<double>& probabilities, const Labels& labels, int bins,
                           const Eigen::VectorXd& nll = Eigen::VectorXd());
// The figures of all samples, in Figure order.
std::array<double, kFigures> figures(const SampleScores& scores);

// Fewer resamples than this (but more than 0) are refused: the 2.5% and 97.5% quantiles of a
// handful of resamples are nearly the extreme draws, and with 1 resample the interval is a point.
inline constexpr int kMinimumResamples = 100;

struct Interval {
  double estimate = 0;  // on all samples
  double lower = 0, upper = 0;  // NaN when there is no interval (no bootstrap)
  bool has_interval() const { return !std::isnan(lower) && !std::isnan(upper); }
};
using FigureIntervals = std::array<Interval, kFigures>;

struct BootstrapResult {
  int resamples = 0;
  uint64_t seed = 0;
  double level = 0.95;
  std::vector<FigureIntervals> sets;     // one per set of predictions
  std::vector<FigureIntervals> changes;  // changes[k − 1]: set k − set 0, paired, for k >= 1
  nlohmann::json to_json() const;        // {"resamples", "seed", "level", "method"}
};

// sets: the predictions to compare (set 0 is the reference, "before"), all on the same samples.
// resamples 0 gives the estimates without intervals (lower = upper = NaN, and every verdict is
// "not tested"); 1 to kMinimumResamples − 1 resamples throw InputError. Reports a ProgressTask "bootstrap".
BootstrapResult bootstrap(const std::vector<const SampleScores*>& sets, int resamples, uint64_t seed);

// "NLL improved: −0.0011 [−0.0019, −0.0004]", "ECE worsened: …", "ECE: no significant change
// (+0.0003 [−0.0002, +0.0009])": significance and direction both come from the 95% interval of
// the change (entirely below 0: a decrease, entirely above: an increase, else no significant
// change), never from the estimate's sign. Without an interval: "NLL: not tested: no bootstrap (−0.0011)".
std::string verdict(Figure f, const Interval& change);

nlohmann::json intervals_json(const FigureIntervals& intervals);  // {"nll": [lower, upper], ...}; {} without intervals
nlohmann::json changes_json(const FigureIntervals& changes);       // {"nll": {estimate, lower, upper, verdict}, ...}; null bounds without intervals

}  // namespace gradflow
