#pragma once
// Mini-batches over a dataset: a seeded shuffle each epoch, then each batch gathered into a
// contiguous buffer (rows in shuffled order) so the model multiplies dense matrices.
#include <random>
#include <vector>

#include "gradflow/data/dataset.h"

namespace gradflow {

class Batcher {
 public:
  Batcher(const Dataset& data, int64_t batch_size, std::mt19937_64& rng);

  int64_t batches() const { return (data_.size() + batch_size_ - 1) / batch_size_; }
  // Draws a new order from the generator; call once at the start of every epoch.
  void shuffle();
  // Batch b of the current order: x: (n, features), y: (n); the last batch may be smaller.
  void gather(int64_t b, Matrix& x, Labels& y) const;
  // Rows [first_row, end_row) of batch b: a data-parallel rank's slice of it.
  void gather(int64_t b, Matrix& x, Labels& y, int64_t first_row, int64_t end_row) const;
  // Rows positions[0], ..., positions[n − 1] of batch b, in that order (mixup's partner rows):
  // x: (n, features), y: (n).
  void gather(int64_t b, const int64_t* positions, int64_t n, Matrix& x, Labels& y) const;
  int64_t batch_rows(int64_t b) const;  // the rows of batch b: the batch size, or fewer for the last

 private:
  const Dataset& data_;
  int64_t batch_size_;
  std::mt19937_64& rng_;
  std::vector<int64_t> order_;
};

}  // namespace gradflow
