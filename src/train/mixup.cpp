#include "gradflow/train/mixup.h"

#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include "gradflow/calibration/seeded_random.h"

namespace gradflow {

namespace {
// mixup's stream of the run's seed: "mixup" in ASCII
constexpr uint64_t kMixupStream = 0x6d69787570;

// log of a Gamma(α, 1) draw, as Gamma(α + 1)·U^(1/α)
double log_gamma_draw(double alpha, MersenneTwister64& rng) {
  // a fresh distribution every draw: it keeps a spare normal draw between calls, state outside
  // the generator that a resume would lose
  std::gamma_distribution<double> gamma(alpha + 1.0);
  const double g = gamma(rng);
  const double u = static_cast<double>((rng() >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  return std::log(g) + std::log(u) / alpha;
}

// uniform on {0, …, n − 1} by multiply-shift (Lemire), the same with every standard library
uint64_t below(uint64_t n, MersenneTwister64& rng) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}
}  // namespace

Mixup::Mixup(MixupOptions options, uint64_t run_seed)
    : options_(options), rng_(SeededRandom(run_seed, kMixupStream).next()) {}

double Mixup::draw_beta(double alpha, MersenneTwister64& rng) {
  const double log_x = log_gamma_draw(alpha, rng);
  const double log_y = log_gamma_draw(alpha, rng);
  return 1.0 / (1.0 + std::exp(log_y - log_x));  // X / (X + Y)
}

void Mixup::draw(int64_t rows) {
  lambda_ = draw_beta(options_.alpha, rng_);
  // Fisher–Yates with the index drawn as above: std::shuffle's algorithm differs between libraries
  permutation_.resize(static_cast<size_t>(rows));
  std::iota(permutation_.begin(), permutation_.end(), int64_t(0));
  for (size_t i = permutation_.size(); i > 1; --i) std::swap(permutation_[i - 1], permutation_[below(i, rng_)]);
}

void Mixup::blend(double lambda, const Eigen::Ref<const Matrix>& partner, Matrix& x) {
  const auto keep = static_cast<float>(lambda), take = static_cast<float>(1.0 - lambda);
  x = keep * x + take * partner;
}

void Mixup::mix(const Batcher& batcher, int64_t b, int64_t first_row, int64_t end_row, Matrix& x) {
  draw(batcher.batch_rows(b));
  batcher.gather(b, permutation_.data() + first_row, end_row - first_row, partner_inputs_, partner_labels_);
  blend(lambda_, partner_inputs_, x);
}

}  // namespace gradflow
