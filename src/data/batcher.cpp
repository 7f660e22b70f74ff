#include "gradflow/data/batcher.h"

#include <algorithm>
#include <numeric>

#include "gradflow/parallel.h"

namespace gradflow {

Batcher::Batcher(const Dataset& data, int64_t batch_size, std::mt19937_64& rng)
    : data_(data), batch_size_(batch_size), rng_(rng), order_(static_cast<size_t>(data.size())) {
  std::iota(order_.begin(), order_.end(), int64_t(0));
}

void Batcher::shuffle() {
  // Fisher-Yates with our own index draw: std::shuffle's algorithm differs between libraries.
  std::iota(order_.begin(), order_.end(), int64_t(0));
  for (size_t i = order_.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(rng_() % i);
    std::swap(order_[i - 1], order_[j]);
  }
}

int64_t Batcher::batch_rows(int64_t b) const { return std::min(batch_size_, data_.size() - b * batch_size_); }

void Batcher::gather(int64_t b, Matrix& x, Labels& y) const { gather(b, x, y, 0, batch_rows(b)); }

namespace {
// x: (n, features), y: (n) <- the data's samples index(0), ..., index(n − 1)
template <typename Index>
void gather_samples(const Dataset& data, int64_t n, Index index, Matrix& x, Labels& y) {
  x.resize(n, data.features());
  y.resize(n);
  // rows scattered over the whole dataset: memory latency bounds this copy, so two threads help
  for_row_blocks(n, data.features(), [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      const int64_t src = index(r);
      x.row(r) = data.images.row(src);
      y[r] = data.labels[src];
    }
  });
}
}  // namespace

void Batcher::gather(int64_t b, Matrix& x, Labels& y, int64_t first_row, int64_t end_row) const {
  const int64_t begin = b * batch_size_ + first_row;
  gather_samples(data_, end_row - first_row, [&](int64_t r) { return order_[static_cast<size_t>(begin + r)]; }, x, y);
}

void Batcher::gather(int64_t b, const int64_t* positions, int64_t n, Matrix& x, Labels& y) const {
  const int64_t begin = b * batch_size_;
  gather_samples(data_, n, [&](int64_t r) { return order_[static_cast<size_t>(begin + positions[r])]; }, x, y);
}

}  // namespace gradflow
