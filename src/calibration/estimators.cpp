#include "gradflow/calibration/estimators.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include "gradflow/calibration/seeded_random.h"
#include "gradflow/errors.h"
#include "gradflow/progress.h"

namespace gradflow {

TopLabel top_label(const MatrixT<double>& probabilities, const Labels& labels) {
  TopLabel top;
  top.confidence.resize(static_cast<size_t>(probabilities.rows()));
  top.correct.resize(static_cast<size_t>(probabilities.rows()));
  for (Eigen::Index i = 0; i < probabilities.rows(); ++i) {
    Eigen::Index predicted = 0;
    top.confidence[static_cast<size_t>(i)] = probabilities.row(i).maxCoeff(&predicted);
    top.correct[static_cast<size_t>(i)] = predicted == labels[i] ? 1 : 0;
  }
  return top;
}

int equal_width_bin(double confidence, int bins) {
  return std::clamp(static_cast<int>(std::ceil(confidence * bins)) - 1, 0, bins - 1);
}

namespace {

// Bins from a bin index per sample; lower/upper are left to the caller.
std::vector<ReliabilityBin> bins_from_index(const TopLabel& top, const std::vector<int>& bin_of, int bins) {
  std::vector<ReliabilityBin> out(static_cast<size_t>(bins));
  std::vector<double> confidence_sum(out.size(), 0.0), correct_sum(out.size(), 0.0);
  for (size_t i = 0; i < bin_of.size(); ++i) {
    const auto b = static_cast<size_t>(bin_of[i]);
    out[b].count += 1;
    confidence_sum[b] += top.confidence[i];
    correct_sum[b] += top.correct[i];
  }
  for (size_t b = 0; b < out.size(); ++b) {
    if (out[b].count == 0) continue;
    out[b].confidence = confidence_sum[b] / static_cast<double>(out[b].count);
    out[b].accuracy = correct_sum[b] / static_cast<double>(out[b].count);
  }
  return out;
}

std::vector<int> equal_width_bin_of(const std::vector<double>& confidence, int bins) {
  std::vector<int> bin_of(confidence.size());
  for (size_t i = 0; i < confidence.size(); ++i) bin_of[i] = equal_width_bin(confidence[i], bins);
  return bin_of;
}

void check_bins(int bins) {
  if (bins < 1) throw InputError("the number of bins must be at least 1");
}

}  // namespace

std::vector<int> equal_mass_bin_of(const std::vector<double>& confidence, int bins) {
  check_bins(bins);
  const size_t n = confidence.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return confidence[i] < confidence[j]; });
  std::vector<int> bin_of(n);
  // rank r goes to bin b with ⌊bN/M⌋ <= r < ⌊(b+1)N/M⌋, i.e. b = ⌊(r·M + M − 1) / N⌋ adjusted below
  int b = 0;
  for (size_t r = 0; r < n; ++r) {
    while (b + 1 < bins && r >= (static_cast<size_t>(b) + 1) * n / static_cast<size_t>(bins)) ++b;
    bin_of[order[r]] = b;
  }
  return bin_of;
}

std::vector<ReliabilityBin> equal_width_bins(const TopLabel& top, int bins) {
  check_bins(bins);
  std::vector<ReliabilityBin> out = bins_from_index(top, equal_width_bin_of(top.confidence, bins), bins);
  for (int b = 0; b < bins; ++b) {
    out[static_cast<size_t>(b)].lower = static_cast<double>(b) / bins;
    out[static_cast<size_t>(b)].upper = static_cast<double>(b + 1) / bins;
  }
  return out;
}

std::vector<ReliabilityBin> equal_mass_bins(const TopLabel& top, int bins) {
  const std::vector<int> bin_of = equal_mass_bin_of(top.confidence, bins);
  std::vector<ReliabilityBin> out = bins_from_index(top, bin_of, bins);
  std::vector<double> lo(out.size(), 2.0), hi(out.size(), -1.0);
  for (size_t i = 0; i < bin_of.size(); ++i) {
    const auto b = static_cast<size_t>(bin_of[i]);
    lo[b] = std::min(lo[b], top.confidence[i]);
    hi[b] = std::max(hi[b], top.confidence[i]);
  }
  for (size_t b = 0; b < out.size(); ++b) {
    if (out[b].count > 0) out[b].lower = lo[b], out[b].upper = hi[b];
  }
  return out;
}

double binned_ece(const std::vector<ReliabilityBin>& bins) {
  int64_t n = 0;
  for (const auto& b : bins) n += b.count;
  if (n == 0) return 0;
  double ece = 0;
  for (const auto& b : bins) ece += static_cast<double>(b.count) / static_cast<double>(n) * std::fabs(b.accuracy - b.confidence);
  return ece;
}

double binned_mce(const std::vector<ReliabilityBin>& bins) {
  double mce = 0;
  for (const auto& b : bins) {
    if (b.count > 0) mce = std::max(mce, std::fabs(b.accuracy - b.confidence));
  }
  return mce;
}

double signed_ece(const TopLabel& top) {
  if (top.confidence.empty()) return 0;
  double gap = 0;
  for (size_t i = 0; i < top.confidence.size(); ++i) gap += top.confidence[i] - top.correct[i];
  return gap / static_cast<double>(top.confidence.size());
}

DebiasedEce debiased_ece(const TopLabel& top, int bins) {
  DebiasedEce d;
  const double n = static_cast<double>(top.confidence.size());
  if (n == 0) return d;
  for (const ReliabilityBin& b : equal_mass_bins(top, bins)) {
    if (b.count < 2) continue;
    const double nb = static_cast<double>(b.count);
    const double plug_in = (b.accuracy - b.confidence) * (b.accuracy - b.confidence);
    d.squared += nb / n * (plug_in - b.accuracy * (1 - b.accuracy) / (nb - 1));
  }
  d.root = std::sqrt(std::max(d.squared, 0.0));
  return d;
}

double classwise_ece(const MatrixT<double>& probabilities, const Labels& labels, int bins) {
  check_bins(bins);
  const Eigen::Index n = probabilities.rows(), classes = probabilities.cols();
  if (n == 0 || classes == 0) return 0;
  double total = 0;
  std::vector<double> p_sum(static_cast<size_t>(bins)), y_sum(static_cast<size_t>(bins));
  std::vector<int64_t> count(static_cast<size_t>(bins));
  for (Eigen::Index k = 0; k < classes; ++k) {
    std::fill(p_sum.begin(), p_sum.end(), 0.0);
    std::fill(y_sum.begin(), y_sum.end(), 0.0);
    std::fill(count.begin(), count.end(), int64_t{0});
    for (Eigen::Index i = 0; i < n; ++i) {
      const auto b = static_cast<size_t>(equal_width_bin(probabilities(i, k), bins));
      p_sum[b] += probabilities(i, k);
      y_sum[b] += labels[i] == k ? 1.0 : 0.0;
      count[b] += 1;
    }
    double ece_k = 0;
    for (size_t b = 0; b < count.size(); ++b) ece_k += std::fabs(y_sum[b] - p_sum[b]);  // n_b·|ā_b − c̄_b|
    total += ece_k / static_cast<double>(n);
  }
  return total / static_cast<double>(classes);
}

namespace {

constexpr int kSmoothGrid = 512;

// smECE_σ on the grid: residuals summed into kSmoothGrid buckets of confidence, smoothed by the
// reflected Gaussian kernel (images of c at ±c + 2k), each kernel column renormalised to mass 1.
double smooth_ece_on_grid(const std::vector<double>& residual_mass, double bandwidth) {
  const int g = kSmoothGrid;
  // φ((j/g)/σ) for the offsets j = (grid − bucket) and (grid + bucket + 1) − 2kg that occur
  const int reach = 7 * g;
  std::vector<double> phi(static_cast<size_t>(2 * reach + 1));
  for (int j = -reach; j <= reach; ++j) {
    const double x = (static_cast<double>(j) / g) / bandwidth;
    phi[static_cast<size_t>(j + reach)] = std::exp(-0.5 * x * x);
  }
  auto kernel = [&](int t, int h) {  // unnormalised K(t_t, c_h), t and h grid indices
    double k = 0;
    for (int m = -3; m <= 3; ++m) {
      const int direct = t - h - 2 * m * g, mirrored = t + h + 1 - 2 * m * g;
      if (std::abs(direct) <= reach) k += phi[static_cast<size_t>(direct + reach)];
      if (std::abs(mirrored) <= reach) k += phi[static_cast<size_t>(mirrored + reach)];
    }
    return k;
  };
  std::vector<double> smoothed(static_cast<size_t>(g), 0.0);
  std::vector<double> column(static_cast<size_t>(g));
  for (int h = 0; h < g; ++h) {
    const double r = residual_mass[static_cast<size_t>(h)];
    if (r == 0) continue;
    double mass = 0;
    for (int t = 0; t < g; ++t) mass += column[static_cast<size_t>(t)] = kernel(t, h);
    if (!(mass > 0)) continue;
    for (int t = 0; t < g; ++t) smoothed[static_cast<size_t>(t)] += r * column[static_cast<size_t>(t)] / mass;
  }
  double integral = 0;  // Σ_t |r̂(t)|·(1/g), with r̂ a density: the column sums to r over the grid
  for (double s : smoothed) integral += std::fabs(s);
  return integral;
}

std::vector<double> residual_mass(const TopLabel& top) {
  std::vector<double> mass(static_cast<size_t>(kSmoothGrid), 0.0);
  const double n = static_cast<double>(top.confidence.size());
  for (size_t i = 0; i < top.confidence.size(); ++i) {
    const int h = std::clamp(static_cast<int>(top.confidence[i] * kSmoothGrid), 0, kSmoothGrid - 1);
    mass[static_cast<size_t>(h)] += (top.correct[i] - top.confidence[i]) / n;
  }
  return mass;
}

}  // namespace

double smooth_ece(const TopLabel& top, double bandwidth) {
  if (top.confidence.empty()) return 0;
  if (!(bandwidth > 0)) throw InputError("the SmoothECE bandwidth must be positive");
  return smooth_ece_on_grid(residual_mass(top), bandwidth);
}

SmoothEce smooth_ece(const TopLabel& top) {
  SmoothEce s;
  if (top.confidence.empty()) return s;
  const std::vector<double> mass = residual_mass(top);
  // smECE_σ does not grow with σ, so smECE_σ − σ has one root; bisection in log σ on [1e-3, 1]
  double lo = 1e-3, hi = 1.0;
  if (smooth_ece_on_grid(mass, lo) <= lo) return {smooth_ece_on_grid(mass, lo), lo};
  for (int i = 0; i < 40; ++i) {
    const double mid = std::sqrt(lo * hi);
    (smooth_ece_on_grid(mass, mid) > mid ? lo : hi) = mid;
  }
  s.bandwidth = std::sqrt(lo * hi);
  s.value = smooth_ece_on_grid(mass, s.bandwidth);
  return s;
}

double quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double at = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(at));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (at - static_cast<double>(below)) * (values[above] - values[below]);
}

NoiseFloors noise_floor(const TopLabel& top, int bins, double observed_equal_width, double observed_equal_mass,
                        int replicates, uint64_t seed) {
  check_bins(bins);
  NoiseFloors floors;
  const size_t n = top.confidence.size();
  const auto m = static_cast<size_t>(bins);
  const auto r_count = static_cast<size_t>(std::max(replicates, 0));
  floors.equal_width.replicates = floors.equal_mass.replicates = replicates;
  floors.equal_width.seed = floors.equal_mass.seed = seed;
  if (n == 0 || r_count == 0) return floors;
  const std::vector<int> width_bin = equal_width_bin_of(top.confidence, bins);
  const std::vector<int> mass_bin = equal_mass_bin_of(top.confidence, bins);
  // confidences do not change between replicates: each bin's count and mean confidence are fixed
  std::vector<double> width_count(m, 0), width_conf(m, 0), mass_count(m, 0), mass_conf(m, 0);
  for (size_t i = 0; i < n; ++i) {
    width_count[static_cast<size_t>(width_bin[i])] += 1;
    width_conf[static_cast<size_t>(width_bin[i])] += top.confidence[i];
    mass_count[static_cast<size_t>(mass_bin[i])] += 1;
    mass_conf[static_cast<size_t>(mass_bin[i])] += top.confidence[i];
  }
  std::vector<double> width_ece(r_count), mass_ece(r_count);
  std::vector<double> width_acc(r_count * m), mass_acc(r_count * m);  // [replicate][bin]
  const auto r_end = static_cast<int64_t>(r_count);
  ProgressTask progress("noise floor", r_end, "replicates");
  std::atomic<int64_t> done{0};
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < r_end; ++r) {
    const int64_t now = ++done;
    if (omp_get_thread_num() == 0) progress.advance(now);  // the sink is not thread-safe
    SeededRandom random(seed, static_cast<uint64_t>(r));
    double* wa = &width_acc[static_cast<size_t>(r) * m];
    double* ma = &mass_acc[static_cast<size_t>(r) * m];
    std::fill(wa, wa + m, 0.0);
    std::fill(ma, ma + m, 0.0);
    for (size_t i = 0; i < n; ++i) {
      const double hit = random.uniform() < top.confidence[i] ? 1.0 : 0.0;  // a_i ~ Bernoulli(c_i)
      wa[width_bin[i]] += hit;
      ma[mass_bin[i]] += hit;
    }
    double we = 0, me = 0;
    for (size_t b = 0; b < m; ++b) {
      we += std::fabs(wa[b] - width_conf[b]);  // n_b·|ā_b − c̄_b|
      me += std::fabs(ma[b] - mass_conf[b]);
      if (width_count[b] > 0) wa[b] /= width_count[b];
      if (mass_count[b] > 0) ma[b] /= mass_count[b];
    }
    width_ece[static_cast<size_t>(r)] = we / static_cast<double>(n);
    mass_ece[static_cast<size_t>(r)] = me / static_cast<double>(n);
  }
  auto summarise = [&](NoiseFloor& f, std::vector<double>& ece, const std::vector<double>& acc,
                       const std::vector<double>& count, double observed) {
    f.mean = std::accumulate(ece.begin(), ece.end(), 0.0) / static_cast<double>(r_count);
    // a tolerance, so a replicate equal to the observed value (both exactly 0) counts as at or above it
    const auto at_least = std::count_if(ece.begin(), ece.end(), [&](double e) { return e >= observed - 1e-12; });
    f.p_value = static_cast<double>(1 + at_least) / static_cast<double>(1 + r_count);
    f.lower = quantile(ece, 0.025);
    f.upper = quantile(ece, 0.975);
    f.bands.resize(m);
    std::vector<double> column(r_count);
    for (size_t b = 0; b < m; ++b) {
      if (count[b] == 0) continue;
      for (size_t r = 0; r < r_count; ++r) column[r] = acc[r * m + b];
      const double lo = quantile(column, 0.025);
      f.bands[b] = std::make_pair(lo, quantile(column, 0.975));
    }
  };
  summarise(floors.equal_width, width_ece, width_acc, width_count, observed_equal_width);
  summarise(floors.equal_mass, mass_ece, mass_acc, mass_count, observed_equal_mass);
  return floors;
}

namespace {

nlohmann::json floor_json(const NoiseFloor& f) {
  nlohmann::json bands = nlohmann::json::array();
  for (const auto& band : f.bands) {
    bands.push_back(band ? nlohmann::json{band->first, band->second} : nlohmann::json(nullptr));
  }
  return {{"replicates", f.replicates}, {"seed", f.seed}, {"mean", f.mean}, {"lower", f.lower}, {"upper", f.upper},
          {"p_value", f.p_value}, {"bin_accuracy_bands", bands}};
}

}  // namespace

nlohmann::json CalibrationEstimators::to_json() const {
  nlohmann::json mass = nlohmann::json::array();
  for (const auto& b : equal_mass_bins) {
    mass.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count}, {"confidence", b.confidence},
                    {"accuracy", b.accuracy}});
  }
  return {{"bins", bins},
          {"ece", ece},
          {"equal_mass_ece", equal_mass_ece},
          {"debiased_ece", debiased.root},
          {"debiased_squared_ece", debiased.squared},
          {"classwise_ece", classwise_ece},
          {"signed_ece", signed_ece},
          {"smooth_ece", smooth.value},
          {"smooth_ece_bandwidth", smooth.bandwidth},
          {"equal_mass_bins", mass},
          {"noise_floor", floor_json(noise.equal_width)},
          {"equal_mass_noise_floor", floor_json(noise.equal_mass)}};
}

CalibrationEstimators calibration_estimators(const MatrixT<double>& probabilities, const Labels& labels, int bins,
                                             int noise_replicates, uint64_t seed) {
  CalibrationEstimators e;
  e.bins = bins;
  const TopLabel top = top_label(probabilities, labels);
  e.ece = binned_ece(equal_width_bins(top, bins));
  e.equal_mass_bins = equal_mass_bins(top, bins);
  e.equal_mass_ece = binned_ece(e.equal_mass_bins);
  e.debiased = debiased_ece(top, bins);
  e.classwise_ece = classwise_ece(probabilities, labels, bins);
  e.signed_ece = signed_ece(top);
  e.smooth = smooth_ece(top);
  e.noise = noise_floor(top, bins, e.ece, e.equal_mass_ece, noise_replicates, seed);
  return e;
}

}  // namespace gradflow
