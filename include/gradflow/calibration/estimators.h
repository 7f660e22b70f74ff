#pragma once
// Estimators of top-label calibration error beside the headline 15-bin equal-width ECE (Guo et
// al. 2017), each answering a doubt a reviewer raises about it. With c_i the top-label
// confidence, a_i ∈ {0, 1} whether the top label is right, and N samples:
//   equal-width ECE  Σ_b (n_b/N)·|ā_b − c̄_b|, bins (lo, hi] of width 1/M (a confidence of 0 in bin 0)
//   equal-mass ECE   the same over M bins holding N/M samples each, sorted by confidence
//                    (Nixon et al. 2019, Roelofs et al. 2022: fewer empty bins, less binning bias)
//   debiased ECE     Kumar et al. 2019: over equal-mass bins, the plug-in squared error with the
//                    variance of each bin's accuracy taken off,
//                      Σ_b (n_b/N)·[(ā_b − c̄_b)² − ā_b(1 − ā_b)/(n_b − 1)]   (bins with n_b ≥ 2),
//                    reported as its root (0 when the corrected square is negative, which happens
//                    for a well-calibrated model: the noise is all there is), and unclipped
//   classwise ECE    Kull et al. 2019: for every class k, the equal-width ECE of p_ik against
//                    [y_i = k]; their mean over the classes
//   signed ECE       Σ_b (n_b/N)·(c̄_b − ā_b) = mean confidence − accuracy (the bins cancel):
//                    > 0 over-confident, < 0 under-confident
//   SmoothECE        Błasiok & Nakkiran 2023: the residuals a_i − c_i smoothed over confidence with
//                    a Gaussian kernel reflected at 0 and 1, r̂(t) = (1/N) Σ_i K_σ(t, c_i)(a_i − c_i),
//                    and smECE_σ = ∫_0^1 |r̂(t)| dt, at their fixed-point bandwidth σ* = smECE_σ*
//                    (found by bisection; the integral on a grid of 512 points, each kernel
//                    renormalised on the grid so it keeps its mass even when σ is below a step)
//   noise floor      what a perfectly calibrated model with these confidences and this N would
//                    show: labels drawn from the model's own probabilities (a_i ~ Bernoulli(c_i)),
//                    R seeded replicates; the mean, the 2.5% and 97.5% quantiles, and the share of
//                    replicates at or above the observed ECE (a one-sided p-value, (1 + k)/(1 + R)),
//                    for both binnings; and per bin the 95% consistency band of its accuracy
//                    (Bröcker & Smith 2007), the range a reliability diagram may wander by chance.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "gradflow/calibration/metrics.h"
#include "gradflow/tensor.h"

namespace gradflow {

// The top-label view of probabilities (N, C) and labels (N): c_i and a_i.
struct TopLabel {
  std::vector<double> confidence;
  std::vector<uint8_t> correct;
};
TopLabel top_label(const MatrixT<double>& probabilities, const Labels& labels);

// The bin (lo, hi] of width 1/bins holding `confidence`: ceil(c·M) − 1, with c = 0 in bin 0.
int equal_width_bin(double confidence, int bins);

// Bins of the top label; an equal-mass bin's lower and upper are the least and largest confidence in it.
std::vector<ReliabilityBin> equal_width_bins(const TopLabel& top, int bins);
std::vector<ReliabilityBin> equal_mass_bins(const TopLabel& top, int bins);
// For each sample, its equal-mass bin (samples sorted by confidence, bin b = [⌊bN/M⌋, ⌊(b+1)N/M⌋)).
std::vector<int> equal_mass_bin_of(const std::vector<double>& confidence, int bins);

double binned_ece(const std::vector<ReliabilityBin>& bins);  // Σ (n_b/N)|ā_b − c̄_b|
double binned_mce(const std::vector<ReliabilityBin>& bins);  // max over non-empty bins
double signed_ece(const TopLabel& top);                      // mean confidence − accuracy

struct DebiasedEce {
  double squared = 0;  // the corrected squared error; may be negative
  double root = 0;     // sqrt(max(squared, 0)), as Kumar et al. report it
};
DebiasedEce debiased_ece(const TopLabel& top, int bins);

double classwise_ece(const MatrixT<double>& probabilities, const Labels& labels, int bins);

double smooth_ece(const TopLabel& top, double bandwidth);
struct SmoothEce {
  double value = 0;
  double bandwidth = 0;  // σ* (the fixed point), or the lower end of the search, 1e-3, when smECE stays below it
};
SmoothEce smooth_ece(const TopLabel& top);

struct NoiseFloor {
  int replicates = 0;
  uint64_t seed = 0;
  double mean = 0, lower = 0, upper = 0;  // of the simulated ECE: mean and 95% interval
  double p_value = 1;                     // (1 + #{simulated ≥ observed}) / (1 + R)
  // per bin, the 2.5% and 97.5% quantiles of the simulated accuracy; nullopt for an empty bin
  std::vector<std::optional<std::pair<double, double>>> bands;
};
struct NoiseFloors {
  NoiseFloor equal_width, equal_mass;
};
NoiseFloors noise_floor(const TopLabel& top, int bins, double observed_equal_width, double observed_equal_mass,
                        int replicates, uint64_t seed);

// Every estimator above, for one set of probabilities.
struct CalibrationEstimators {
  int bins = 15;
  double ece = 0, equal_mass_ece = 0, classwise_ece = 0, signed_ece = 0;
  DebiasedEce debiased;
  SmoothEce smooth;
  std::vector<ReliabilityBin> equal_mass_bins;
  NoiseFloors noise;
  nlohmann::json to_json() const;
};
CalibrationEstimators calibration_estimators(const MatrixT<double>& probabilities, const Labels& labels, int bins,
                                             int noise_replicates = 1000, uint64_t seed = 0);

// The quantile q of `values` (sorted in place) by linear interpolation between order statistics.
double quantile(std::vector<double>& values, double q);

}  // namespace gradflow
