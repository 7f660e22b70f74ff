// parallel.h and the element-wise work it splits over threads: for_row_blocks covers every row
// once, and Dense, ReLU and Batcher::gather, at batch sizes large enough to split on 2 threads,
// compute what a plain loop computes.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <random>
#include <vector>

#include "gradflow/data/batcher.h"
#include "gradflow/layers/dense.h"
#include "gradflow/layers/relu.h"
#include "gradflow/parallel.h"

using namespace gradflow;

namespace {
// rows x cols past kParallelMinimumElements, with a row count that does not split evenly
constexpr int64_t kRows = 301, kCols = 150;
static_assert(kRows * kCols >= kParallelMinimumElements, "the shapes below must be split across threads");

// Runs the test body on 2 threads, then restores 1.
struct TwoThreads {
  TwoThreads() { omp_set_num_threads(2); }
  ~TwoThreads() { omp_set_num_threads(1); }
};
}  // namespace

TEST(ForRowBlocks, CoversEveryRowOnceInContiguousBlocks) {
  TwoThreads two;
  std::vector<int> visits(kRows, 0);
  std::vector<std::pair<int64_t, int64_t>> blocks(2, {-1, -1});
  for_row_blocks(kRows, kCols, [&](int64_t begin, int64_t end) {
    blocks[static_cast<size_t>(omp_get_thread_num())] = {begin, end};
    for (int64_t r = begin; r < end; ++r) ++visits[static_cast<size_t>(r)];  // each thread its own rows
  });
  for (int64_t r = 0; r < kRows; ++r) EXPECT_EQ(visits[static_cast<size_t>(r)], 1) << "row " << r;
  EXPECT_EQ(blocks[0], (std::pair<int64_t, int64_t>{0, kRows / 2}));
  EXPECT_EQ(blocks[1], (std::pair<int64_t, int64_t>{kRows / 2, kRows}));

  // too little work: one call on the calling thread
  int calls = 0;
  for_row_blocks(10, 10, [&](int64_t begin, int64_t end) {
    ++calls;
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
  });
  EXPECT_EQ(calls, 1);
}

TEST(ForRowBlocks, DenseForwardAndBackwardMatchAPlainLoopOnTwoThreads) {
  TwoThreads two;
  const int64_t out = 40;
  Dense<float> dense(kCols, out);
  std::mt19937_64 rng(5);
  dense.initialize(rng);
  std::srand(6);
  const Matrix x = Matrix::Random(kRows, kCols), dy = Matrix::Random(kRows, out);
  Matrix y, dx;
  dense.forward(x, y);
  dense.backward(x, y, dy, &dx);
  const auto params = dense.parameters();
  const float* dw = params[0].gradient;
  const float* db = params[1].gradient;
  for (int64_t b = 0; b < kRows; ++b) {
    for (int64_t o = 0; o < out; ++o) {
      double expected = dense.bias()[o];
      for (int64_t i = 0; i < kCols; ++i) expected += double(x(b, i)) * dense.weight()(o, i);
      ASSERT_NEAR(y(b, o), expected, 1e-4) << "y(" << b << ", " << o << ")";
    }
  }
  // dW = dy^T x reads the input backward is handed: every row of it must be the input's
  for (int64_t o = 0; o < out; ++o) {
    double bias_grad = 0;
    for (int64_t b = 0; b < kRows; ++b) bias_grad += dy(b, o);
    ASSERT_NEAR(db[o], bias_grad, 1e-3) << "db(" << o << ")";
    for (int64_t i = 0; i < kCols; ++i) {
      double expected = 0;
      for (int64_t b = 0; b < kRows; ++b) expected += double(dy(b, o)) * x(b, i);
      ASSERT_NEAR(dw[o * kCols + i], expected, 1e-3) << "dW(" << o << ", " << i << ")";
    }
  }
  for (int64_t b = 0; b < kRows; ++b) {
    for (int64_t i = 0; i < kCols; ++i) {
      double expected = 0;
      for (int64_t o = 0; o < out; ++o) expected += double(dy(b, o)) * dense.weight()(o, i);
      ASSERT_NEAR(dx(b, i), expected, 1e-4) << "dx(" << b << ", " << i << ")";
    }
  }
}

TEST(ForRowBlocks, ReluForwardAndBackwardMatchAPlainLoopOnTwoThreads) {
  TwoThreads two;
  ReLU<float> relu(kCols);
  std::srand(7);
  const Matrix x = Matrix::Random(kRows, kCols), dy = Matrix::Random(kRows, kCols);
  Matrix y, dx;
  relu.forward(x, y);
  relu.backward(x, y, dy, &dx);
  ASSERT_EQ(y.rows(), kRows);
  ASSERT_EQ(dx.rows(), kRows);
  for (int64_t b = 0; b < kRows; ++b) {
    for (int64_t i = 0; i < kCols; ++i) {
      ASSERT_EQ(y(b, i), x(b, i) > 0 ? x(b, i) : 0.0f) << "y(" << b << ", " << i << ")";
      ASSERT_EQ(dx(b, i), x(b, i) > 0 ? dy(b, i) : 0.0f) << "dx(" << b << ", " << i << ")";
    }
  }
}

TEST(ForRowBlocks, GatherKeepsImagesAndLabelsPairedOnTwoThreads) {
  TwoThreads two;
  Dataset data;
  data.images.resize(2 * kRows, kCols);
  data.labels.resize(2 * kRows);
  for (int64_t s = 0; s < 2 * kRows; ++s) {
    data.labels[s] = static_cast<int>(s);
    for (int64_t i = 0; i < kCols; ++i) data.images(s, i) = static_cast<float>(s * kCols + i);
  }
  std::mt19937_64 rng(8);
  Batcher batcher(data, kRows, rng);
  batcher.shuffle();
  Matrix x;
  Labels y;
  std::vector<int> seen;
  for (int64_t b = 0; b < batcher.batches(); ++b) {
    batcher.gather(b, x, y);
    ASSERT_EQ(x.rows(), kRows);
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t i = 0; i < kCols; ++i) ASSERT_EQ(x(r, i), data.images(y[r], i)) << "row " << r;
      seen.push_back(y[r]);
    }
  }
  std::sort(seen.begin(), seen.end());
  for (int64_t s = 0; s < 2 * kRows; ++s) EXPECT_EQ(seen[static_cast<size_t>(s)], s);
}
