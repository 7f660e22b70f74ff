#include "gradflow/layers/dropout.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "gradflow/layer_registry.h"
#include "gradflow/parallel.h"

namespace gradflow {

template <typename Scalar>
void Dropout<Scalar>::forward(const ConstRef& x, Mat& y) {
  if (!this->training() || p_ == 0.0) {
    y = x;
    return;
  }
  const Scalar keep_scale = static_cast<Scalar>(1.0 / (1.0 - p_));
  mask_.resize(x.rows(), x.cols());
  // One stream draws the global batch's mask row by row (row-major); data-parallel ranks each
  // keep their own rows of it, so no two ranks share a mask and N ranks draw what one would.
  const BatchShard& shard = this->batch_shard();
  const auto before = static_cast<unsigned long long>(shard.split() ? shard.begin * x.cols() : 0);
  const auto after = static_cast<unsigned long long>(
      shard.split() ? (shard.global_rows - shard.begin - x.rows()) * x.cols() : 0);
  masks_.discard(before);
  // A unit is kept when u >= p, u = (r >> 11)·2^-53 uniform in [0, 1) (the same everywhere):
  // that is (r >> 11) >= ceil(p·2^53), exactly. The one stream draws a block of numbers at a
  // time (vectorised, MersenneTwister64::fill, into a buffer that stays in L1), and the
  // comparisons are arithmetic, not a branch (a branch on random bits mispredicts), so they
  // vectorise too.
  const auto threshold = static_cast<uint64_t>(std::ceil(std::ldexp(p_, 53)));
  y.resize(x.rows(), x.cols());
  constexpr int64_t kBlock = 1024;
  uint64_t draws[kBlock];
  const int64_t cols = x.cols();
  for (int64_t r = 0; r < x.rows(); ++r) {
    const Scalar* in = x.row(r).data();
    Scalar* m = mask_.row(r).data();
    Scalar* out = y.row(r).data();
    for (int64_t first = 0; first < cols; first += kBlock) {
      const int64_t n = std::min(kBlock, cols - first);
      masks_.fill(draws, static_cast<size_t>(n));
#pragma omp simd
      for (int64_t c = 0; c < n; ++c) {
        const Scalar kept = keep_scale * static_cast<Scalar>((draws[c] >> 11) >= threshold);
        m[first + c] = kept;
        out[first + c] = in[first + c] * kept;
      }
    }
  }
  masks_.discard(after);
}

template <typename Scalar>
void Dropout<Scalar>::backward(const ConstRef& /*x*/, const ConstRef& /*y*/, const ConstRef& dy, Mat* dx) {
  if (dx == nullptr) return;
  if (!this->training() || p_ == 0.0) {
    *dx = dy;
    return;
  }
  dx->resize(dy.rows(), dy.cols());
  for_row_blocks(dy.rows(), dy.cols(), [&](int64_t begin, int64_t end) {
    dx->middleRows(begin, end - begin) = dy.middleRows(begin, end - begin).cwiseProduct(mask_.middleRows(begin, end - begin));
  });
}

template <typename Scalar>
LayerFormulas Dropout<Scalar>::formulas() const {
  char p[64];
  std::snprintf(p, sizeof p, "p = %g", p_);
  return {std::string("mask m ~ Bernoulli(1−p),  ") + p + "\ny = x ⊙ m/(1−p)   (identity in eval)",
          "dx = dy ⊙ m/(1−p)   (the forward's mask; identity in eval)"};
}

template class Dropout<float>;
template class Dropout<double>;

GRADFLOW_REGISTER_LAYER(Dropout, "dropout", "inverted dropout: zero each unit with probability p in training",
                        {{"p", LayerParam::Number, 0.5, {0, 1, false, true}, "probability of zeroing a unit", {}}});

}  // namespace gradflow
