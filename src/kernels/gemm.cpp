#include "gradflow/kernels/gemm.h"

#include <omp.h>

#include <algorithm>

#include "gradflow/kernels/backend.h"
#include "gradflow/parallel.h"

namespace gradflow {

namespace {

// One thread's block, computed by the current backend.
template <typename Scalar>
void product_block(const ProductBackend& backend, bool transpose_a, bool transpose_b,
                   const Eigen::Ref<const MatrixT<Scalar>>& a, const Eigen::Ref<const MatrixT<Scalar>>& b,
                   Eigen::Ref<MatrixT<Scalar>>& c, Eigen::Index row, Eigen::Index rows, Eigen::Index col, Eigen::Index cols,
                   bool accumulate) {
  backend.block(BlockProduct<Scalar>{transpose_a, transpose_b, a, b, c, row, rows, col, cols, accumulate});
}

}  // namespace

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, MatrixT<Scalar>& c, bool accumulate) {
  if (!accumulate) c.resize(transpose_a ? a.cols() : a.rows(), transpose_b ? b.rows() : b.cols());
  gemm<Scalar>(transpose_a, transpose_b, a, b, Eigen::Ref<MatrixT<Scalar>>(c), accumulate);
}

template <typename Scalar>
void gemm(bool transpose_a, bool transpose_b, const Eigen::Ref<const MatrixT<Scalar>>& a,
          const Eigen::Ref<const MatrixT<Scalar>>& b, Eigen::Ref<MatrixT<Scalar>> c, bool accumulate) {
  const Eigen::Index m = transpose_a ? a.cols() : a.rows();
  const Eigen::Index k = transpose_a ? a.rows() : a.cols();
  const Eigen::Index n = transpose_b ? b.rows() : b.cols();
  eigen_assert(c.rows() == m && c.cols() == n && "gemm: a product into a view of another shape");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) c.setZero();
    return;
  }
  // Split the longer side of c: each thread packs all of the operand along the other side, so
  // this packs the least. With a transposed (the weight gradients dy^T x), the rows: splitting
  // its columns made the dense layers' dW products 2 to 5% slower. Blocks are whole register
  // tiles (16 rows or columns), one per thread.
  constexpr Eigen::Index kTile = 16;
  const bool by_rows = transpose_a || m >= n;
  const Eigen::Index side = by_rows ? m : n;
  const Eigen::Index tiles = (side + kTile - 1) / kTile;
  // The blocks are laid out for the partition's thread count (parallel.h); while fewer threads run
  // (set_running_threads), they compute the same blocks in turn, so the result is the same.
  const int threads = omp_in_parallel() ? 1 : std::max(1, partition_threads());
  const int64_t work = static_cast<int64_t>(m) * n * k;
  const int blocks = work >= kParallelMinimumWork ? static_cast<int>(std::min<Eigen::Index>(threads, tiles)) : 1;
  const ProductBackend& backend = product_backend();
  if (blocks == 1) {
    product_block<Scalar>(backend, transpose_a, transpose_b, a, b, c, 0, m, 0, n, accumulate);
    return;
  }
  const int running = omp_in_parallel() ? 1 : std::min(blocks, std::max(1, omp_get_max_threads()));
#pragma omp parallel for num_threads(running) schedule(static, 1) if (running > 1)
  for (int t = 0; t < blocks; ++t) {
    const Eigen::Index first = std::min(side, tiles * t / blocks * kTile);
    const Eigen::Index last = std::min(side, tiles * (t + 1) / blocks * kTile);
    if (last > first) {
      if (by_rows) {
        product_block<Scalar>(backend, transpose_a, transpose_b, a, b, c, first, last - first, 0, n, accumulate);
      } else {
        product_block<Scalar>(backend, transpose_a, transpose_b, a, b, c, 0, m, first, last - first, accumulate);
      }
    }
  }
}

template void gemm<float>(bool, bool, const Eigen::Ref<const MatrixT<float>>&, const Eigen::Ref<const MatrixT<float>>&,
                          MatrixT<float>&, bool);
template void gemm<double>(bool, bool, const Eigen::Ref<const MatrixT<double>>&, const Eigen::Ref<const MatrixT<double>>&,
                           MatrixT<double>&, bool);
template void gemm<float>(bool, bool, const Eigen::Ref<const MatrixT<float>>&, const Eigen::Ref<const MatrixT<float>>&,
                          Eigen::Ref<MatrixT<float>>, bool);
template void gemm<double>(bool, bool, const Eigen::Ref<const MatrixT<double>>&, const Eigen::Ref<const MatrixT<double>>&,
                           Eigen::Ref<MatrixT<double>>, bool);

}  // namespace gradflow
