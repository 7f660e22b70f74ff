#include "gradflow/layers/gaussian_noise.h"

#include <algorithm>
#include <limits>
#include <cstdio>
#include <string>

#include "gradflow/layer_registry.h"

namespace gradflow {

namespace {
constexpr int64_t kPairs = 128;  // numbers drawn per block: Eigen's log/sin/cos run on whole packets
}

void draw_normal_pairs(MersenneTwister64& generator, int64_t pairs, float* out) {
  using Block = Eigen::Array<float, kPairs, 1>;
  Block u1, u2;
  uint64_t draws[kPairs];
  for (int64_t first = 0; first < pairs; first += kPairs) {
    const int64_t n = std::min(kPairs, pairs - first);
    generator.fill(draws, static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t r = draws[j];
      u1[j] = static_cast<float>((r >> 40) + 1) * 0x1.0p-24f;         // (0, 1]: the log stays finite
      u2[j] = static_cast<float>((r >> 16) & 0xFFFFFFu) * 0x1.0p-24f;  // [0, 1)
    }
    for (int64_t j = n; j < kPairs; ++j) u1[j] = 1.0f, u2[j] = 0.0f;  // the tail of the last block: unused
    const Block radius = (-2.0f * u1.log()).sqrt();
    const Block angle = 6.2831853071795864769f * u2;
    const Block cosines = radius * angle.cos(), sines = radius * angle.sin();
    for (int64_t j = 0; j < n; ++j) {
      out[2 * (first + j)] = cosines[j];
      out[2 * (first + j) + 1] = sines[j];
    }
  }
}

template <typename Scalar>
void GaussianNoise<Scalar>::forward(const ConstRef& x, Mat& y) {
  y = x;
  if (!this->training() || std_ == 0.0) return;
  // One stream draws the global batch's noise (row-major, two entries per number); data-parallel
  // ranks each add their own rows of it, so N ranks draw what one process would.
  const BatchShard& shard = this->batch_shard();
  const int64_t cols = x.cols(), entries = x.size();
  const int64_t global_first = shard.split() ? shard.begin * cols : 0;
  const int64_t global_entries = shard.split() ? shard.global_rows * cols : entries;
  const int64_t first_pair = global_first / 2, end_pair = (global_first + entries + 1) / 2;
  noise_.discard(static_cast<unsigned long long>(first_pair));
  const auto sigma = static_cast<Scalar>(std_);
  float normals[2 * kPairs];
  Scalar* out = y.data();
  for (int64_t pair = first_pair; pair < end_pair; pair += kPairs) {
    const int64_t count = std::min(kPairs, end_pair - pair);
    draw_normal_pairs(noise_, count, normals);
    // this block holds global entries [2·pair, 2·(pair + count)); add the ones in this batch
    const int64_t lo = std::max(global_first, 2 * pair), hi = std::min(global_first + entries, 2 * (pair + count));
    for (int64_t e = lo; e < hi; ++e) out[e - global_first] += sigma * static_cast<Scalar>(normals[e - 2 * pair]);
  }
  noise_.discard(static_cast<unsigned long long>((global_entries + 1) / 2 - end_pair));
}

template <typename Scalar>
void GaussianNoise<Scalar>::backward(const ConstRef& /*x*/, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  if (dx != nullptr) *dx = dy;  // ∂(x + σn)/∂x = 1, in training and eval alike
}

template <typename Scalar>
LayerFormulas GaussianNoise<Scalar>::formulas() const {
  char sigma[64];
  std::snprintf(sigma, sizeof sigma, "σ = %g", std_);
  return {std::string("noise n ~ N(0, 1) per entry,  ") + sigma + "\ny = x + σ·n   (identity in eval)",
          "dx = dy   (the noise does not depend on x)"};
}

template class GaussianNoise<float>;
template class GaussianNoise<double>;

GRADFLOW_REGISTER_LAYER(GaussianNoise, "gaussian_noise",
                        "additive Gaussian noise: add std·N(0, 1) to each unit in training, identity in eval",
                        {{"std", LayerParam::Number, 0.3, {0, std::numeric_limits<double>::infinity(), false, false},
                          "standard deviation σ of the noise added to each unit", {}}});

}  // namespace gradflow
