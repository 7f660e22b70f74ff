#include "gradflow/calibration/bootstrap.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <cstdio>
#include <string>

#include "gradflow/calibration/estimators.h"
#include "gradflow/calibration/seeded_random.h"
#include "gradflow/errors.h"
#include "gradflow/progress.h"

namespace gradflow {

const char* figure_key(Figure f) {
  static const char* keys[] = {"accuracy", "nll", "brier", "ece", "mce", "equal_mass_ece", "debiased_ece"};
  return keys[static_cast<int>(f)];
}

const char* figure_name(Figure f) {
  static const char* names[] = {"accuracy", "NLL", "Brier", "ECE", "MCE", "equal-mass ECE", "debiased ECE"};
  return names[static_cast<int>(f)];
}

bool higher_is_better(Figure f) { return f == Figure::kAccuracy; }

SampleScores sample_scores(const MatrixT<double>& p, const Labels& labels, int bins, const Eigen::VectorXd& nll) {
  if (bins < 1) throw InputError("the number of bins must be at least 1");
  SampleScores s;
  s.bins = bins;
  const auto n = static_cast<size_t>(p.rows());
  s.correct.resize(n);
  s.nll.resize(n);
  s.brier.resize(n);
  s.confidence.resize(n);
  s.bin.resize(n);
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    const auto at = static_cast<size_t>(i);
    Eigen::Index predicted = 0;
    s.confidence[at] = p.row(i).maxCoeff(&predicted);
    s.correct[at] = predicted == labels[i] ? 1 : 0;
    const double p_y = p(i, labels[i]);
    s.nll[at] = nll.size() == p.rows() ? nll[i] : -std::log(std::max(p_y, 1e-300));
    s.brier[at] = p.row(i).squaredNorm() - p_y * p_y + (1 - p_y) * (1 - p_y);  // Σ_k (p_k − y_k)²
    s.bin[at] = equal_width_bin(s.confidence[at], bins);
  }
  s.mass_bin = equal_mass_bin_of(s.confidence, bins);
  return s;
}

namespace {

// The figures of the samples at `index` (all samples when index is null), with `work`: 6·bins doubles.
std::array<double, kFigures> figures_at(const SampleScores& s, const std::vector<uint32_t>* index, std::vector<double>& work) {
  const size_t n = index != nullptr ? index->size() : s.correct.size();
  const auto bins = static_cast<size_t>(s.bins);
  work.assign(6 * bins, 0.0);  // per equal-width bin, then per equal-mass bin: count, Σ confidence, Σ correct
  double correct = 0, nll = 0, brier = 0;
  for (size_t j = 0; j < n; ++j) {
    const size_t i = index != nullptr ? (*index)[j] : j;
    correct += s.correct[i];
    nll += s.nll[i];
    brier += s.brier[i];
    double* bin = &work[3 * static_cast<size_t>(s.bin[i])];
    bin[0] += 1;
    bin[1] += s.confidence[i];
    bin[2] += s.correct[i];
    double* mass = &work[3 * (bins + static_cast<size_t>(s.mass_bin[i]))];
    mass[0] += 1;
    mass[1] += s.confidence[i];
    mass[2] += s.correct[i];
  }
  if (n == 0) return {0, 0, 0, 0, 0, 0, 0};
  const double count = static_cast<double>(n);
  double ece = 0, mce = 0;
  for (size_t b = 0; b < bins; ++b) {
    const double* bin = &work[3 * b];
    if (bin[0] == 0) continue;
    const double gap = std::fabs(bin[2] - bin[1]);  // n_b·|ā_b − c̄_b|
    ece += gap;
    mce = std::max(mce, gap / bin[0]);
  }
  double mass_ece = 0, squared = 0;
  for (size_t b = 0; b < bins; ++b) {
    const double* bin = &work[3 * (bins + b)];
    if (bin[0] == 0) continue;
    mass_ece += std::fabs(bin[2] - bin[1]);
    if (bin[0] < 2) continue;
    // Kumar et al.: (n_b/N)·[(ā_b − c̄_b)² − ā_b(1 − ā_b)/(n_b − 1)]
    const double accuracy = bin[2] / bin[0], confidence = bin[1] / bin[0];
    squared += bin[0] * ((accuracy - confidence) * (accuracy - confidence) - accuracy * (1 - accuracy) / (bin[0] - 1));
  }
  return {correct / count, nll / count, brier / count, ece / count, mce, mass_ece / count,
          std::sqrt(std::max(squared / count, 0.0))};
}

}  // namespace

std::array<double, kFigures> figures(const SampleScores& scores) {
  std::vector<double> work;
  return figures_at(scores, nullptr, work);
}

BootstrapResult bootstrap(const std::vector<const SampleScores*>& sets, int resamples, uint64_t seed) {
  BootstrapResult result;
  if (resamples > 0 && resamples < kMinimumResamples) {
    throw InputError("bootstrap resamples: 0 (no intervals) or at least " + std::to_string(kMinimumResamples) + ", got " +
                     std::to_string(resamples));
  }
  result.resamples = std::max(resamples, 0);
  result.seed = seed;
  if (sets.empty()) return result;
  const size_t n = sets[0]->correct.size();
  for (const SampleScores* s : sets) {
    if (s->correct.size() != n) throw InputError("bootstrap: the sets of predictions cover different samples");
  }
  const size_t k_sets = sets.size(), r_count = static_cast<size_t>(result.resamples);
  // values[(set·kFigures + figure)·R + r]
  std::vector<double> values(k_sets * kFigures * r_count);
  if (n > 0 && r_count > 0) {
    ProgressTask progress("bootstrap", static_cast<int64_t>(r_count), "resamples");
    std::atomic<int64_t> done{0};
    const auto r_end = static_cast<int64_t>(r_count);
#pragma omp parallel
    {
      std::vector<uint32_t> index(n);
      std::vector<double> work;
#pragma omp for schedule(static)
      for (int64_t r = 0; r < r_end; ++r) {
        SeededRandom random(seed, static_cast<uint64_t>(r));
        for (auto& i : index) i = static_cast<uint32_t>(random.below(n));
        for (size_t k = 0; k < k_sets; ++k) {
          const auto f = figures_at(*sets[k], &index, work);
          for (int m = 0; m < kFigures; ++m) values[(k * kFigures + static_cast<size_t>(m)) * r_count + static_cast<size_t>(r)] = f[static_cast<size_t>(m)];
        }
        const int64_t now = ++done;
        if (omp_get_thread_num() == 0) progress.advance(now);  // the sink is not thread-safe
      }
    }
  }
  // The basic (reverse-percentile) interval [2θ̂ − q_97.5, 2θ̂ − q_2.5]: it reads the spread of
  // θ* − θ̂ as that of θ̂ − θ, so a bias of the statistic (binned ECE and MCE grow on resamples)
  // is subtracted once instead of added. Each interval is clamped to what its figure can be: a
  // figure to [0, its maximum], a change between two sets to [−maximum, maximum].
  auto interval = [&](double estimate, std::vector<double> draws, double lowest, double highest) {
    if (draws.empty()) return Interval{estimate, std::nan(""), std::nan("")};
    const double lower = 2 * estimate - quantile(draws, 0.975), upper = 2 * estimate - quantile(draws, 0.025);
    return Interval{estimate, std::clamp(lower, lowest, highest), std::clamp(upper, lowest, highest)};
  };
  // accuracy and every calibration error lie in [0, 1], the Brier score in [0, 2], the NLL in [0, ∞)
  auto maximum = [](int m) {
    const auto f = static_cast<Figure>(m);
    return f == Figure::kNll ? std::numeric_limits<double>::infinity() : f == Figure::kBrier ? 2.0 : 1.0;
  };
  std::vector<std::array<double, kFigures>> estimates;
  for (const SampleScores* s : sets) estimates.push_back(figures(*s));
  auto draws_of = [&](size_t k, int m) {
    const auto begin = values.begin() + static_cast<std::ptrdiff_t>((k * kFigures + static_cast<size_t>(m)) * r_count);
    return std::vector<double>(begin, begin + static_cast<std::ptrdiff_t>(r_count));
  };
  for (size_t k = 0; k < k_sets; ++k) {
    FigureIntervals set;
    for (int m = 0; m < kFigures; ++m) {
      set[static_cast<size_t>(m)] =
          interval(estimates[k][static_cast<size_t>(m)], draws_of(k, m), 0.0, maximum(m));
    }
    result.sets.push_back(set);
    if (k == 0) continue;
    FigureIntervals change;
    for (int m = 0; m < kFigures; ++m) {
      std::vector<double> a = draws_of(k, m);
      const std::vector<double> b = draws_of(0, m);
      for (size_t r = 0; r < a.size(); ++r) a[r] -= b[r];  // the same resample: paired
      change[static_cast<size_t>(m)] =
          interval(estimates[k][static_cast<size_t>(m)] - estimates[0][static_cast<size_t>(m)], std::move(a), -maximum(m),
                   maximum(m));
    }
    result.changes.push_back(change);
  }
  return result;
}

nlohmann::json BootstrapResult::to_json() const {
  return {{"resamples", resamples}, {"seed", seed}, {"level", level},
          {"method", "basic (reverse percentile); changes paired (the same resampled indices for before and after)"}};
}

std::string verdict(Figure f, const Interval& change) {
  char numbers[96];
  if (!change.has_interval()) {
    std::snprintf(numbers, sizeof numbers, "%+.4f", change.estimate);
    return std::string(figure_name(f)) + ": not tested: no bootstrap (" + numbers + ")";
  }
  std::snprintf(numbers, sizeof numbers, "%+.4f [%+.4f, %+.4f]", change.estimate, change.lower, change.upper);
  // significance and direction from the interval alone: the estimate may lie outside it
  const bool increased = change.lower > 0, decreased = change.upper < 0;
  if (!increased && !decreased) return std::string(figure_name(f)) + ": no significant change (" + numbers + ")";
  const bool better = increased == higher_is_better(f);
  return std::string(figure_name(f)) + (better ? " improved: " : " worsened: ") + numbers;
}

nlohmann::json intervals_json(const FigureIntervals& intervals) {
  nlohmann::json j = nlohmann::json::object();
  for (int m = 0; m < kFigures; ++m) {
    const Interval& i = intervals[static_cast<size_t>(m)];
    if (i.has_interval()) j[figure_key(static_cast<Figure>(m))] = {i.lower, i.upper};
  }
  return j;
}

nlohmann::json changes_json(const FigureIntervals& changes) {
  nlohmann::json j = nlohmann::json::object();
  for (int m = 0; m < kFigures; ++m) {
    const Interval& i = changes[static_cast<size_t>(m)];
    const nlohmann::json lower = i.has_interval() ? nlohmann::json(i.lower) : nlohmann::json(nullptr);
    const nlohmann::json upper = i.has_interval() ? nlohmann::json(i.upper) : nlohmann::json(nullptr);
    j[figure_key(static_cast<Figure>(m))] = {{"estimate", i.estimate}, {"lower", lower}, {"upper", upper},
                                             {"verdict", verdict(static_cast<Figure>(m), i)}};
  }
  return j;
}

}  // namespace gradflow
